import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { AppError } from "../../errors.ts";
import { shellQuote } from "../../util/shell.ts";
import type { Logger } from "../../logger.ts";
import type {
  ExecOptions,
  ExecProcess,
  SandboxImage,
  SandboxInfo,
  SandboxLayout,
  SandboxProvider,
  SandboxSpec,
} from "../types.ts";

interface Meta {
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  state: "running" | "stopped";
}

/**
 * Sandboxes as directories on this machine and commands as plain child processes, for machines
 * without Docker. It isolates nothing: the agent runs as this user, with this user's access.
 * "Images" are directory copies under `<baseDir>/images`. It has no volumes, so it cannot run
 * persistent sandboxes: a session's directory lives exactly as long as its sandbox.
 */
export class LocalSandboxProvider implements SandboxProvider {
  readonly kind = "local" as const;
  readonly supportsVolumes = false;
  private readonly sandboxesDir: string;
  private readonly imagesDir: string;
  private readonly children = new Map<string, Set<ChildProcess>>();

  constructor(opts: { baseDir: string; logger: Logger }) {
    this.sandboxesDir = path.resolve(opts.baseDir, "sandboxes");
    this.imagesDir = path.resolve(opts.baseDir, "images");
    mkdirSync(this.sandboxesDir, { recursive: true });
    opts.logger.warn(
      { dir: this.sandboxesDir },
      "sandbox.local_provider: sandboxes are plain directories and processes; the agent is NOT isolated from this machine",
    );
  }

  layout(id: string): SandboxLayout {
    const root = this.root(id);
    return {
      workspace: path.join(root, "workspace"),
      home: path.join(root, "home"),
      state: path.join(root, "state"),
    };
  }

  async create(spec: SandboxSpec): Promise<string> {
    if (spec.volumes?.length) {
      throw new AppError(
        "volumes_unsupported",
        "the local sandbox provider has no volumes; persistent sandboxes need SANDBOX_PROVIDER=docker",
        400,
      );
    }
    const id = `${spec.name.replace(/[^\w.-]/g, "-")}-${randomBytes(4).toString("hex")}`;
    const root = this.root(id);
    const image = path.join(this.imagesDir, imageDirName(spec.image));
    if (existsSync(image)) cpSync(image, root, { recursive: true });
    const layout = this.layout(id);
    for (const dir of Object.values(layout)) mkdirSync(dir, { recursive: true });
    this.writeMeta(id, { image: spec.image, labels: spec.labels, env: spec.env, state: "stopped" });
    return id;
  }

  async start(id: string): Promise<void> {
    this.writeMeta(id, { ...this.readMetaOrThrow(id), state: "running" });
  }

  async stop(id: string): Promise<void> {
    for (const child of this.children.get(id) ?? []) killGroup(child);
    this.children.delete(id);
    if (existsSync(this.metaPath(id)))
      this.writeMeta(id, { ...this.readMetaOrThrow(id), state: "stopped" });
  }

  async remove(id: string): Promise<void> {
    await this.stop(id);
    rmSync(this.root(id), { recursive: true, force: true });
  }

  async exec(id: string, argv: string[], opts: ExecOptions = {}): Promise<ExecProcess> {
    const meta = this.readMetaOrThrow(id);
    if (meta.state !== "running")
      throw new AppError("sandbox_stopped", `sandbox ${id} is not running`, 409);
    const layout = this.layout(id);
    const env = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: layout.home,
      LANG: "C.UTF-8",
      ...meta.env,
      ...opts.env,
    };
    let command = argv;
    const ttyFile = path.join(layout.state, `tty-${randomBytes(4).toString("hex")}`);
    if (opts.tty) {
      // util-linux `script` gives the command a pseudo-terminal; the inner shell records which
      // one, so `resize` can set its size with `stty -F`.
      const size = opts.size ? `stty cols ${opts.size.cols} rows ${opts.size.rows}; ` : "";
      const inner = `tty > ${shellQuote(ttyFile)}; ${size}exec ${argv.map(shellQuote).join(" ")}`;
      command = ["script", "-qfec", `sh -c ${shellQuote(inner)}`, "/dev/null"];
    }
    const child = spawn(command[0]!, command.slice(1), {
      cwd: opts.cwd ?? layout.workspace,
      env,
      detached: true, // its own process group, so stop() ends everything it started
      stdio: [opts.stdin || opts.tty ? "pipe" : "ignore", "pipe", "pipe"],
    });
    let set = this.children.get(id);
    if (!set) this.children.set(id, (set = new Set()));
    set.add(child);
    const exited = new Promise<{ exitCode: number }>((resolve) => {
      child.once("error", () => resolve({ exitCode: 127 }));
      child.once("close", (code, signal) => {
        set.delete(child);
        rmSync(ttyFile, { force: true });
        resolve({ exitCode: code ?? (signal ? 128 + 9 : -1) });
      });
    });
    return {
      stdout: child.stdout!,
      stderr: child.stderr!,
      stdin: child.stdin,
      wait: () => exited,
      resize: async ({ cols, rows }) => {
        if (!opts.tty || !existsSync(ttyFile)) return;
        const tty = readFileSync(ttyFile, "utf8").trim();
        spawnSync("stty", ["-F", tty, "cols", String(cols), "rows", String(rows)]);
      },
    };
  }

  async commit(
    id: string,
    image: string,
    opts: { labels?: Record<string, string> } = {},
  ): Promise<string> {
    this.readMetaOrThrow(id);
    const target = path.join(this.imagesDir, imageDirName(image));
    rmSync(target, { recursive: true, force: true });
    mkdirSync(this.imagesDir, { recursive: true });
    cpSync(this.root(id), target, {
      recursive: true,
      filter: (src) => path.basename(src) !== "meta.json",
    });
    // Beside the copy, not in it: what the image is called and who owns it.
    writeFileSync(
      `${target}${IMAGE_META}`,
      JSON.stringify({ ref: image, labels: opts.labels ?? {} } satisfies SandboxImage),
    );
    return image;
  }

  /** There are no volumes here (see `create`), so there is never one to remove. */
  async removeVolume(): Promise<void> {}

  async listImages(filter: { repository: string; labelKeys: string[] }): Promise<SandboxImage[]> {
    if (!existsSync(this.imagesDir)) return [];
    return readdirSync(this.imagesDir)
      .filter((f) => f.endsWith(IMAGE_META))
      .map((f) => JSON.parse(readFileSync(path.join(this.imagesDir, f), "utf8")) as SandboxImage)
      .filter(
        (image) =>
          image.ref.startsWith(`${filter.repository}:`) &&
          filter.labelKeys.every((k) => k in image.labels),
      );
  }

  /** Sandboxes are copies, never links to their image: removing one never breaks a sandbox. */
  async removeImage(ref: string): Promise<"removed" | "in_use" | "missing"> {
    const target = path.join(this.imagesDir, imageDirName(ref));
    if (!existsSync(target)) return "missing";
    rmSync(target, { recursive: true, force: true });
    rmSync(`${target}${IMAGE_META}`, { force: true });
    return "removed";
  }

  async inspect(id: string): Promise<SandboxInfo> {
    if (!existsSync(this.metaPath(id))) return { id, state: "missing", image: "", labels: {} };
    const meta = this.readMetaOrThrow(id);
    return { id, state: meta.state, image: meta.image, labels: meta.labels };
  }

  private root(id: string) {
    if (!/^[\w.-]+$/.test(id))
      throw new AppError("bad_sandbox_id", `invalid sandbox id ${id}`, 400);
    return path.join(this.sandboxesDir, id);
  }

  private metaPath(id: string) {
    return path.join(this.root(id), "meta.json");
  }

  private readMetaOrThrow(id: string): Meta {
    if (!existsSync(this.metaPath(id)))
      throw new AppError("sandbox_missing", `sandbox ${id} does not exist`, 404);
    return JSON.parse(readFileSync(this.metaPath(id), "utf8")) as Meta;
  }

  private writeMeta(id: string, meta: Meta) {
    writeFileSync(this.metaPath(id), JSON.stringify(meta));
  }
}

const imageDirName = (image: string) => image.replace(/[^\w.-]/g, "_");
const IMAGE_META = ".image.json";

function killGroup(child: ChildProcess) {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    /* already gone */
  }
}
