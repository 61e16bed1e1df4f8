import {
  appendEvent,
  execCollect,
  sandboxCommandEnv,
  type Repository,
  type SessionEventBody,
} from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";
import type { ActiveSandbox } from "./sandbox.ts";

export type FileStat = Extract<SessionEventBody, { type: "diff_stat" }>["files"][number];

/**
 * `git diff --numstat` against the default branch, untracked files included. They are marked
 * intent-to-add in a throwaway copy of the index, so the agent's own index is left as it was.
 */
const SCRIPT = `set -e
cd "$2"
tmp="$(mktemp)"; trap 'rm -f "$tmp"' EXIT
index="$(git rev-parse --git-path index)"
if [ -f "$index" ]; then cp "$index" "$tmp"; else rm -f "$tmp"; fi
export GIT_INDEX_FILE="$tmp"
git add --intent-to-add --all . >/dev/null 2>&1 || true
git diff --numstat --no-renames "$1" --`;

/** Parses numstat lines (`added<TAB>removed<TAB>path`; binary files count `-`, taken as 0). */
export function parseNumstat(output: string): FileStat[] {
  return output.split("\n").flatMap((line) => {
    const match = line.match(/^(\d+|-)\t(\d+|-)\t(.+)$/);
    if (!match) return [];
    const count = (s: string) => (s === "-" ? 0 : Number(s));
    return [{ path: match[3]!, added: count(match[1]!), removed: count(match[2]!) }];
  });
}

/**
 * After a turn, records what the work so far changes, as a `diff_stat` event that reporters put
 * in their summary. Best effort: a failure is logged and the session goes on.
 */
export async function recordDiffStat(
  deps: RunnerDeps,
  sessionId: string,
  sandbox: ActiveSandbox,
  repo: Repository,
): Promise<void> {
  const log = deps.rt.logger.child({ sessionId });
  try {
    const r = await execCollect(
      deps.sandboxes,
      sandbox.id,
      ["sh", "-c", SCRIPT, "sh", repo.defaultBranch, sandbox.workdir],
      {
        env: sandboxCommandEnv(sandbox.layout),
      },
    );
    if (r.exitCode !== 0)
      return log.warn({ exitCode: r.exitCode, stderr: r.stderr.slice(-500) }, "diff_stat.failed");
    const eventDeps = { db: deps.rt.database.db, bus: deps.rt.bus, logger: log };
    await appendEvent(eventDeps, sessionId, { type: "diff_stat", files: parseNumstat(r.stdout) });
  } catch (err) {
    log.warn({ err }, "diff_stat.failed");
  }
}
