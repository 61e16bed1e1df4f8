import type Docker from "dockerode";
import { AppError } from "../../errors.ts";

/**
 * Every sandbox process runs as this uid:gid, whatever the image's `USER` says. Numeric, so it
 * works even where the image has no such user in /etc/passwd (the image check below still
 * demands the home it needs).
 */
export const SANDBOX_USER = "1000:1000";

/**
 * No capability at all: the agent is uid 1000 and needs none, and `docker exec -u root` into a
 * sandbox (a person debugging it) gets a root without CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_SETUID...
 * With no-new-privileges, a setuid binary cannot raise them back either.
 */
export const SANDBOX_HARDENING = {
  CapDrop: ["ALL"],
  CapAdd: [] as string[],
  SecurityOpt: ["no-new-privileges"],
  Privileged: false,
} satisfies Partial<Docker.HostConfig>;

/** Docker volume names (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`): never a host path. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]+$/;

/**
 * Host paths that are, or may hold, an engine socket: the socket's parent folders, and any path
 * with "docker" in a segment (`/var/run/docker.sock`, a rootless `/run/user/1000/docker.sock`,
 * the exec proxy's `/run/tandem-docker/`). Mounting one hands out the host.
 */
const isDockerSocketPath = (source: string) => {
  const p = source.replace(/\/+$/, "") || "/";
  return (
    ["/", "/var", "/var/run", "/run"].includes(p) ||
    p.split("/").some((segment) => segment.includes("docker"))
  );
};

/**
 * Refuses a container whose mounts could reach the Docker engine: a bind of a socket path or a
 * folder holding one, or a "volume" whose name is a path. Checked on the final options, so a
 * mount added anywhere in `create` goes through it.
 */
export function assertNoDockerSocket(hostConfig: Docker.HostConfig): void {
  const sources = [
    ...(hostConfig.Binds ?? []).map((b) => b.split(":")[0] ?? ""),
    ...(hostConfig.Mounts ?? []).map((m) => {
      if (m.Type === "volume" && !VOLUME_NAME.test(m.Source ?? "")) {
        throw new AppError(
          "sandbox_mount_refused",
          `sandbox volume name ${JSON.stringify(m.Source)} is not a Docker volume name (letters, digits, _ . -); host paths are never mounted`,
          400,
        );
      }
      return m.Type === "bind" ? (m.Source ?? "") : "";
    }),
  ];
  const socket = sources.find((s) => s && isDockerSocketPath(s));
  if (socket) {
    throw new AppError(
      "sandbox_mount_refused",
      `refusing to mount ${socket} into a sandbox: it is, or holds, the Docker socket, which is root on the host`,
      400,
    );
  }
}

/**
 * What an image must offer the agent user, tested as that user at start: a writable home at
 * /home/agent and a writable /workspace. An image built FROM tandem/sandbox has both; one
 * without the `agent` user (uid 1000) would otherwise fail later in a clone or the agent's
 * first write, far from the cause.
 */
export const IMAGE_CHECK = ["/bin/sh", "-c", 'test -d "$1" -a -w "$1" -a -d "$2" -a -w "$2"', "sh"];

export const imageUnfit = (image: string, layout: { home: string; workspace: string }) =>
  new AppError(
    "sandbox_image_unfit",
    `image ${image} has no ${layout.home} and ${layout.workspace} writable by uid 1000: sandboxes run as uid 1000 whatever the image's USER; build it FROM tandem/sandbox, or add \`useradd --uid 1000 --create-home --home-dir ${layout.home} agent && install -d -o agent -g agent ${layout.workspace}\``,
    422,
  );
