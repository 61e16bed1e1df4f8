import { AppError } from "../errors.ts";
import { shellQuote } from "../util/shell.ts";
import { execCollect, type SandboxProvider } from "./types.ts";

export interface SandboxFile {
  path: string;
  content: string;
  mode?: number;
}

/** A shell snippet that writes the files (base64 through the command line, so any content is safe). */
const writeScript = (files: SandboxFile[]) => files.map(({ path, content, mode = 0o644 }) => {
  const dir = path.slice(0, path.lastIndexOf("/"));
  return `mkdir -p ${shellQuote(dir)} && printf %s ${shellQuote(Buffer.from(content).toString("base64"))} | base64 -d > ${shellQuote(path)}`
    + ` && chmod ${mode.toString(8)} ${shellQuote(path)}`;
}).join(" && ");

/** Writes several files with one exec (each exec is a round trip to the engine). */
export async function writeSandboxFiles(sandboxes: SandboxProvider, id: string, files: SandboxFile[]): Promise<void> {
  if (files.length === 0) return;
  const r = await execCollect(sandboxes, id, ["sh", "-c", writeScript(files)]);
  if (r.exitCode !== 0) {
    throw new AppError("sandbox_write_failed", `could not write ${files.map((f) => f.path).join(", ")} in the sandbox: ${r.stderr.trim()}`);
  }
}

/**
 * Runs argv steps as one `sh -e` script (one round trip), stopping at the first that fails;
 * `files` are written first, in the same round trip.
 */
export async function runSandboxSteps(
  sandboxes: SandboxProvider, id: string, steps: string[][], env: Record<string, string>, files: SandboxFile[] = [],
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const lines = [...(files.length ? [writeScript(files)] : []), ...steps.map((argv) => argv.map(shellQuote).join(" "))];
  return execCollect(sandboxes, id, ["sh", "-ec", lines.join("\n")], { env });
}
