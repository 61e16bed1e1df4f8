import { AppError } from "../errors.ts";
import { shellQuote } from "../util/shell.ts";
import { collectExec, execCollect, type ExecResult, type SandboxProvider } from "./types.ts";

export interface SandboxFile {
  path: string;
  content: string;
  mode?: number;
}

/** A shell snippet that writes the files (base64 through the command line, so any content is safe). */
const writeScript = (files: SandboxFile[]) =>
  files
    .map(({ path, content, mode = 0o644 }) => {
      const dir = path.slice(0, path.lastIndexOf("/"));
      return (
        `mkdir -p ${shellQuote(dir)} && printf %s ${shellQuote(Buffer.from(content).toString("base64"))} | base64 -d > ${shellQuote(path)}` +
        ` && chmod ${mode.toString(8)} ${shellQuote(path)}`
      );
    })
    .join(" && ");

/** Writes several files with one exec (each exec is a round trip to the engine). */
export async function writeSandboxFiles(
  sandboxes: SandboxProvider,
  id: string,
  files: SandboxFile[],
): Promise<void> {
  if (files.length === 0) return;
  const r = await execCollect(sandboxes, id, ["sh", "-c", writeScript(files)]);
  if (r.exitCode !== 0) {
    throw new AppError(
      "sandbox_write_failed",
      `could not write ${files.map((f) => f.path).join(", ")} in the sandbox: ${r.stderr.trim()}`,
    );
  }
}

/** The steps as one script, the files written first. */
const stepsScript = (steps: string[][], files: SandboxFile[]) =>
  [
    ...(files.length ? [writeScript(files)] : []),
    ...steps.map((argv) => argv.map(shellQuote).join(" ")),
  ].join("\n");

/**
 * Runs argv steps as one `sh -e` script (one round trip), stopping at the first that fails;
 * `files` are written first, in the same round trip.
 */
export async function runSandboxSteps(
  sandboxes: SandboxProvider,
  id: string,
  steps: string[][],
  env: Record<string, string>,
  files: SandboxFile[] = [],
): Promise<ExecResult> {
  return execCollect(sandboxes, id, ["sh", "-ec", stepsScript(steps, files)], { env });
}

/** An exec opened before its steps are known: `run` them once (as runSandboxSteps would), or `close` it unused. */
export interface SandboxShell {
  run(steps: string[][], env: Record<string, string>, files?: SandboxFile[]): Promise<ExecResult>;
  close(): void;
}

/**
 * Opens an exec now and gives it its script later, on stdin: the engine's part of an exec (tens
 * of milliseconds, the dearest step of a sandbox's start) then overlaps what the caller does
 * meanwhile, such as another exec.
 */
export function openSandboxShell(sandboxes: SandboxProvider, id: string): SandboxShell {
  const opened = sandboxes.exec(id, ["sh", "-ec", 'script=$(cat); eval "$script"'], {
    stdin: true,
  });
  opened.catch(() => {}); // the error is run's to report
  let done = false;
  return {
    async run(steps, env, files = []) {
      if (done) throw new Error("this sandbox shell was already used");
      done = true;
      const exports = Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`);
      return collectExec(await opened, [...exports, stepsScript(steps, files)].join("\n"));
    },
    close() {
      if (done) return;
      done = true;
      void opened.then((proc) => collectExec(proc, "")).catch(() => {});
    },
  };
}
