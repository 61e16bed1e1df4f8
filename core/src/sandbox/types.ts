import type { Readable, Writable } from "node:stream";

/** Where things live inside a sandbox; the local provider maps them into its directory. */
export interface SandboxLayout {
  /** Repositories are checked out under `<workspace>/<owner>/<repo>`. */
  workspace: string;
  /** The agent user's home (agent config, caches). */
  home: string;
  /** Tandem's own files: turn output logs, exit codes, the git credential helper. */
  state: string;
}

export interface SandboxLimits {
  cpus?: number;
  memoryBytes?: number;
  pids?: number;
  /** Root filesystem size; engines that cannot cap it run without the cap (with a warning). */
  diskBytes?: number;
}

/** What every sandbox (session or snapshot build) gets unless its profile version says otherwise. */
const DEFAULT_SANDBOX_LIMITS = {
  cpus: 2,
  memoryBytes: 4 * 1024 ** 3,
  pids: 1024,
} as const satisfies SandboxLimits;

/** The defaults with a profile version's own limits on top. */
export const sandboxLimits = (overrides?: SandboxLimits): SandboxLimits => ({
  ...DEFAULT_SANDBOX_LIMITS,
  ...overrides,
});

/** A named volume mounted at `path`: it outlives the sandbox and is removed only by `removeVolume`. */
export interface SandboxVolume {
  name: string;
  path: string;
}

export interface SandboxSpec {
  name: string;
  image: string;
  /** Labels identify the owner: org, session and profile version. Volumes get them too. */
  labels: Record<string, string>;
  /** Non-secret environment only; secrets never enter a sandbox. */
  env: Record<string, string>;
  limits?: SandboxLimits;
  /** `host`, `none`, or a Docker network name. */
  network: string;
  /** Mounted read-only at GATEWAY_MOUNT, and the gateway's forwarder started (sandboxNetwork). */
  gatewaySource?: string;
  /**
   * Created (labelled) when missing, reused as they are when present: a sandbox created again
   * with the same volumes finds their files. An empty volume starts with the image's files at
   * its path. Only providers with `supportsVolumes` accept them.
   */
  volumes?: SandboxVolume[];
}

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  tty?: boolean;
  /** Keep stdin open so the caller can write to it. */
  stdin?: boolean;
  /** Initial terminal size with `tty`. */
  size?: { cols: number; rows: number };
}

export interface ExecProcess {
  /** With `tty`, stdout carries the terminal's output and stderr stays empty. */
  stdout: Readable;
  stderr: Readable;
  stdin: Writable | null;
  wait(): Promise<{ exitCode: number }>;
  resize(size: { cols: number; rows: number }): Promise<void>;
}

type SandboxState = "running" | "stopped" | "missing";

export interface SandboxInfo {
  id: string;
  state: SandboxState;
  image: string;
  labels: Record<string, string>;
}

/** An image a provider committed. */
export interface SandboxImage {
  ref: string;
  labels: Record<string, string>;
}

/** One sandbox backend. Ids are the provider's own (a container id, a directory name). */
export interface SandboxProvider {
  readonly kind: "docker" | "local";
  /**
   * Whether `create` accepts volumes (persistent sandboxes). The local provider does not: its
   * sandboxes are plain directories that live exactly as long as the sandbox.
   */
  readonly supportsVolumes: boolean;
  layout(id: string): SandboxLayout;
  create(spec: SandboxSpec): Promise<string>;
  start(id: string): Promise<void>;
  stop(id: string, opts?: { timeoutMs?: number }): Promise<void>;
  remove(id: string): Promise<void>;
  exec(id: string, argv: string[], opts?: ExecOptions): Promise<ExecProcess>;
  /** Saves the sandbox's filesystem as an image that `create` can start from, with `labels` on it (its owner). */
  commit(id: string, image: string, opts?: { labels?: Record<string, string> }): Promise<string>;
  inspect(id: string): Promise<SandboxInfo>;
  /** Deletes a volume and its files; a missing one is fine, one still mounted is an error. */
  removeVolume(name: string): Promise<void>;
  /** Committed images named `<repository>:<tag>` that carry every label key in `labelKeys`. */
  listImages(filter: { repository: string; labelKeys: string[] }): Promise<SandboxImage[]>;
  /** Removes an image; "in_use" (and it stays) while the provider needs it for an existing sandbox: Docker does, local sandboxes are copies. */
  removeImage(ref: string): Promise<"removed" | "in_use" | "missing">;
}

/** Runs a command to completion and collects its output (for short commands only). */
export async function execCollect(
  provider: SandboxProvider,
  id: string,
  argv: string[],
  opts: Omit<ExecOptions, "tty"> & { input?: string } = {},
): Promise<ExecResult> {
  return collectExec(
    await provider.exec(id, argv, { ...opts, stdin: opts.input !== undefined }),
    opts.input,
  );
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** An exec's output and exit code, once it has ended; `input` is its whole stdin. */
export async function collectExec(proc: ExecProcess, input?: string): Promise<ExecResult> {
  // Decoded once at the end: a chunk boundary may fall inside a multi-byte character.
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  proc.stdout.on("data", (d: Buffer) => stdout.push(d));
  proc.stderr.on("data", (d: Buffer) => stderr.push(d));
  if (input !== undefined) proc.stdin?.end(input);
  const { exitCode } = await proc.wait();
  return {
    exitCode,
    stdout: Buffer.concat(stdout).toString("utf8"),
    stderr: Buffer.concat(stderr).toString("utf8"),
  };
}

/**
 * The environment of every command Tandem runs in a sandbox: its home, the file holding the
 * sandbox token (for the git credential helper and the forwarder), and no git prompts. Where the
 * control plane is comes with the container's own environment (sandboxNetwork).
 */
export const sandboxCommandEnv = (layout: SandboxLayout): Record<string, string> => ({
  HOME: layout.home,
  TANDEM_TOKEN_FILE: `${layout.state}/token`,
  GIT_TERMINAL_PROMPT: "0",
});
