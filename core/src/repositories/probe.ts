import { execFile } from "node:child_process";
import type { Repository, RepositoryCredential } from "./service.ts";

/** What asking a remote for its branches found: git's whole output when it failed. */
export interface RemoteProbe {
  ok: boolean;
  /** The remote's default branch (its HEAD), when it says. */
  head: string | null;
  /** Whether the repository's default branch exists there. */
  branchFound: boolean;
  /** What went wrong, in full (git's stderr), or null. */
  error: string | null;
  durationMs: number;
}

/**
 * `git ls-remote` against the repository's remote from this machine, with its credential given by
 * a credential helper from the environment (never in the arguments or the URL) and no prompt:
 * the "test clone" of the Repositories page. A sandbox may see the network differently (a host
 * alias, the gateway), so a pass here is necessary, not sufficient.
 */
export function probeRemote(
  repo: Pick<Repository, "cloneUrl" | "defaultBranch">,
  credential: RepositoryCredential | null,
  timeoutMs = 20_000,
): Promise<RemoteProbe> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/tmp",
    LANG: "C",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_ALLOW_PROTOCOL: "http:https:ssh:git:file",
    GIT_SSH_COMMAND: "ssh -o BatchMode=yes -o ConnectTimeout=10",
  };
  if (credential) {
    // A credential helper that reads the environment: git says "Authentication failed" when it is refused.
    Object.assign(env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "credential.helper",
      GIT_CONFIG_VALUE_0:
        '!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" "$TANDEM_GIT_USERNAME" "$TANDEM_GIT_PASSWORD"; }; f',
      TANDEM_GIT_USERNAME: credential.username,
      TANDEM_GIT_PASSWORD: credential.password,
    });
  }
  const started = Date.now();
  const branchRef = `refs/heads/${repo.defaultBranch}`;
  return new Promise((resolve) => {
    execFile(
      "git",
      ["ls-remote", "--symref", "--", repo.cloneUrl, "HEAD", branchRef],
      { env, timeout: timeoutMs, maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        const durationMs = Date.now() - started;
        const head = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(stdout)?.[1] ?? null;
        const branchFound = stdout.split("\n").some((l) => l.endsWith(`\t${branchRef}`));
        if (err) {
          const timedOut = (err as { killed?: boolean }).killed;
          const error = timedOut
            ? `git ls-remote did not finish within ${Math.round(timeoutMs / 1000)} s`
            : stderr.trim() || err.message;
          return resolve({ ok: false, head, branchFound, error, durationMs });
        }
        if (!branchFound)
          return resolve({
            ok: false,
            head,
            branchFound,
            error: `the remote answered, but has no branch ${repo.defaultBranch}${head ? ` (its default branch is ${head})` : ""}`,
            durationMs,
          });
        resolve({ ok: true, head, branchFound, error: null, durationMs });
      },
    );
  });
}
