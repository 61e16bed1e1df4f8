import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { AppError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { GATEWAY_FORWARDERS, GATEWAY_MOUNT } from "../gateway.ts";
import {
  assertNoDockerSocket,
  IMAGE_CHECK,
  imageUnfit,
  SANDBOX_HARDENING,
  SANDBOX_USER,
} from "./hardening.ts";
import {
  execCollect,
  type ExecOptions,
  type ExecProcess,
  type SandboxImage,
  type SandboxInfo,
  type SandboxLayout,
  type SandboxProvider,
  type SandboxSpec,
} from "../types.ts";

type ContainerOptions = Docker.ContainerCreateOptions & { HostConfig: Docker.HostConfig };

const LAYOUT: SandboxLayout = {
  workspace: "/workspace",
  home: "/home/agent",
  state: "/home/agent/.tandem",
};

/**
 * PID 1 of every sandbox: waits forever but exits at once on SIGTERM, so `stop` is immediate
 * (a plain `sleep infinity` as PID 1 ignores SIGTERM and every stop would wait for the kill).
 */
const KEEPALIVE = [
  "/bin/sh",
  "-c",
  "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done",
];
/** A gateway sandbox's PID 1 starts the gateway's forwarders first (from the read-only mount). */
const WITH_FORWARDER = ["/bin/sh", "-c", `${GATEWAY_FORWARDERS} ${KEEPALIVE[2]}`];

/** `unix:///var/run/docker.sock`, `tcp://host:2375`, `ssh://user@host`, or unset for the local socket. */
export function dockerOptions(dockerHost: string | undefined): Docker.DockerOptions {
  if (!dockerHost) return { socketPath: "/var/run/docker.sock" };
  const url = new URL(dockerHost);
  if (url.protocol === "unix:") return { socketPath: url.pathname };
  if (url.protocol === "ssh:") {
    return {
      protocol: "ssh",
      host: url.hostname,
      port: url.port ? Number(url.port) : 22,
      username: url.username || undefined,
    };
  }
  return {
    protocol: url.protocol === "https:" ? "https" : "http",
    host: url.hostname,
    port: Number(url.port || 2375),
  };
}

/** The gateway's directory, read-only: a host path is bound, anything else is a named volume. */
const gatewayMount = (source: string): Docker.MountSettings => ({
  Type: source.startsWith("/") ? "bind" : "volume",
  Source: source,
  Target: GATEWAY_MOUNT,
  ReadOnly: true,
});

const isStatus = (err: unknown, ...codes: number[]) =>
  codes.includes((err as { statusCode?: number })?.statusCode ?? 0);

/** The engine's answer to StorageOpt size on a storage driver that cannot enforce it (overlay2 without xfs pquota). */
const isDiskLimitUnsupported = (err: unknown) =>
  /storage-opt|storageopt|pquota|quota/i.test((err as Error)?.message ?? "");

export class DockerSandboxProvider implements SandboxProvider {
  readonly kind = "docker" as const;
  readonly supportsVolumes = true;
  private readonly docker: Docker;
  private readonly logger: Logger;
  /** Learned from the first sandbox with a disk limit: false once the engine refused one. */
  private diskLimits: boolean | undefined;
  /** Image ids that passed IMAGE_CHECK: an image's files never change, so it is checked once. */
  private readonly fitImages = new Set<string>();

  constructor(opts: { dockerHost?: string; logger: Logger }) {
    this.docker = new Docker(dockerOptions(opts.dockerHost));
    this.logger = opts.logger;
  }

  layout(): SandboxLayout {
    return LAYOUT;
  }

  async create(spec: SandboxSpec): Promise<string> {
    const labels = { "tandem.managed": "true", ...spec.labels };
    const options: ContainerOptions = {
      name: spec.name,
      Image: spec.image,
      Entrypoint: spec.gatewaySource ? WITH_FORWARDER : KEEPALIVE,
      Cmd: [],
      User: SANDBOX_USER,
      Labels: labels,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: LAYOUT.workspace,
      HostConfig: {
        NetworkMode: spec.network,
        NanoCpus: spec.limits?.cpus ? Math.round(spec.limits.cpus * 1e9) : undefined,
        Memory: spec.limits?.memoryBytes,
        PidsLimit: spec.limits?.pids,
        // An empty volume is filled with the image's files at its path (Docker's copy-up), so a
        // persistent home starts with the image's dotfiles and a workspace with its checkouts.
        Mounts: [
          ...(spec.volumes ?? []).map((v) => ({
            Type: "volume" as const,
            Source: v.name,
            Target: v.path,
          })),
          ...(spec.gatewaySource ? [gatewayMount(spec.gatewaySource)] : []),
        ],
        // Unprivileged, nothing extra: the sandbox is only the agent's workspace.
        ...SANDBOX_HARDENING,
      },
    };
    // Before anything exists: a refused sandbox leaves no volume behind either.
    assertNoDockerSocket(options.HostConfig);
    for (const volume of spec.volumes ?? []) {
      // Creating a volume that exists returns it unchanged, so a sandbox made again reuses its files.
      await this.docker.createVolume({
        Name: volume.name,
        Labels: { ...labels, "tandem.path": volume.path },
      });
    }
    const diskBytes = spec.limits?.diskBytes;
    if (diskBytes && this.diskLimits !== false) {
      try {
        const container = await this.docker.createContainer({
          ...options,
          HostConfig: { ...options.HostConfig, StorageOpt: { size: String(diskBytes) } },
        });
        this.diskLimits = true;
        return container.id;
      } catch (err) {
        if (!isDiskLimitUnsupported(err)) throw err;
        // Sessions still run: the limit is a guard rail, and the engine's storage cannot enforce it.
        this.diskLimits = false;
        this.logger.warn(
          { err: (err as Error).message },
          "sandbox.disk_limit_unsupported: sandboxes run without limits.diskBytes on this engine (it needs overlay2 on xfs with pquota)",
        );
      }
    }
    return (await this.docker.createContainer(options)).id;
  }

  async start(id: string): Promise<void> {
    const container = this.docker.getContainer(id);
    await container.start().catch((err) => {
      if (!isStatus(err, 304)) throw err; // already running
    });
    // An exec is the dearest step of a start (tens of ms), so a fit image is not checked again;
    // a volume over the home or the workspace brings its own files, so then it always is.
    const info = await container.inspect();
    const mounted = (info.Mounts ?? []).some(
      (m) => m.Destination === LAYOUT.home || m.Destination === LAYOUT.workspace,
    );
    if (!mounted && this.fitImages.has(info.Image)) return;
    const check = await execCollect(this, id, [...IMAGE_CHECK, LAYOUT.home, LAYOUT.workspace]);
    if (check.exitCode !== 0) {
      await container.stop({ t: 0 }).catch(() => {});
      throw imageUnfit(info.Config.Image, LAYOUT);
    }
    if (!mounted) this.fitImages.add(info.Image);
  }

  async stop(id: string, opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.docker
      .getContainer(id)
      .stop({ t: Math.ceil((opts.timeoutMs ?? 5_000) / 1000) })
      .catch((err) => {
        if (!isStatus(err, 304, 404)) throw err; // already stopped, or gone
      });
  }

  async remove(id: string): Promise<void> {
    await this.docker
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch((err) => {
        if (!isStatus(err, 404, 409)) throw err; // gone, or another caller is removing it
      });
  }

  async exec(id: string, argv: string[], opts: ExecOptions = {}): Promise<ExecProcess> {
    // Engines before API 1.42 ignore ConsoleSize, so the command sets its own initial size.
    const cmd =
      opts.tty && opts.size
        ? [
            "/bin/sh",
            "-c",
            `stty cols ${opts.size.cols} rows ${opts.size.rows}; exec "$@"`,
            "sh",
            ...argv,
          ]
        : argv;
    const exec = await this.docker.getContainer(id).exec({
      Cmd: cmd,
      AttachStdin: Boolean(opts.stdin),
      AttachStdout: true,
      AttachStderr: true,
      Tty: Boolean(opts.tty),
      // Never root, whatever the image or the container was made with.
      User: SANDBOX_USER,
      Privileged: false,
      WorkingDir: opts.cwd,
      Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
    });
    const stream = await exec.start({
      hijack: true,
      stdin: Boolean(opts.stdin),
      Tty: Boolean(opts.tty),
    });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    if (opts.tty) stream.pipe(stdout);
    else this.docker.modem.demuxStream(stream, stdout, stderr);
    const ended = new Promise<void>((resolve) => {
      const done = () => {
        stdout.end();
        stderr.end();
        resolve();
      };
      stream.once("end", done);
      stream.once("close", done);
      stream.once("error", done);
    });
    return {
      stdout,
      stderr,
      stdin: opts.stdin ? stream : null,
      wait: async () => {
        await ended;
        for (;;) {
          const info = await exec.inspect();
          if (!info.Running) return { exitCode: info.ExitCode ?? -1 };
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      resize: async ({ cols, rows }) => {
        await exec.resize({ w: cols, h: rows });
      },
    };
  }

  async commit(
    id: string,
    image: string,
    opts: { labels?: Record<string, string> } = {},
  ): Promise<string> {
    const [repo, tag = "latest"] = image.split(/:(?=[^:/]+$)/);
    // Docker's `changes` are Dockerfile lines; values are JSON-quoted so any text is one label.
    const changes = Object.entries(opts.labels ?? {}).map(
      ([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`,
    );
    await this.docker
      .getContainer(id)
      .commit({ repo, tag, ...(changes.length ? { changes } : {}) });
    return `${repo}:${tag}`;
  }

  async removeVolume(name: string): Promise<void> {
    await this.docker
      .getVolume(name)
      .remove()
      .catch((err) => {
        if (isStatus(err, 404)) return;
        if (isStatus(err, 409))
          throw new AppError(
            "volume_in_use",
            `volume ${name} is still mounted by a container; remove the sandbox first`,
            409,
          );
        throw err;
      });
  }

  async inspect(id: string): Promise<SandboxInfo> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      return {
        id,
        state: info.State.Running ? "running" : "stopped",
        image: info.Config.Image,
        labels: info.Config.Labels ?? {},
      };
    } catch (err) {
      if (isStatus(err, 404)) return { id, state: "missing", image: "", labels: {} };
      throw err;
    }
  }

  async listImages(filter: { repository: string; labelKeys: string[] }): Promise<SandboxImage[]> {
    const images = await this.docker.listImages({
      filters: { reference: [filter.repository], label: filter.labelKeys },
    });
    return images.flatMap((image) =>
      (image.RepoTags ?? [])
        .filter((ref) => ref.startsWith(`${filter.repository}:`))
        .map((ref) => ({ ref, labels: image.Labels ?? {} })),
    );
  }

  async removeImage(ref: string): Promise<"removed" | "in_use" | "missing"> {
    try {
      // Never forced: Docker refuses (409) while a container, even a stopped one, uses the image.
      await this.docker.getImage(ref).remove();
      return "removed";
    } catch (err) {
      if (isStatus(err, 404)) return "missing";
      if (isStatus(err, 409)) return "in_use";
      throw err;
    }
  }
}
