import { eq } from "drizzle-orm";
import {
  appendEvent,
  execCollect,
  providerNamed,
  pushTarget,
  sandboxCommandEnv,
  schema,
  sessionBranch,
  type Repository,
} from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";
import type { ActiveSandbox } from "./sandbox.ts";

/**
 * Inside the sandbox, as its user: commit everything the turn left (`git add -A`), then push to
 * `$3` when HEAD has commits the remote branch `$4` lacks, through Tandem's git remote (which
 * holds the credential and accepts pushes to the session's branches only).
 * Prints `pushed <sha>`, or `nothing` when there was nothing to push.
 */
const SCRIPT = `set -e
cd "$1"
git add -A
if ! git diff --cached --quiet; then git -c commit.gpgsign=false commit -q --no-verify -m "$2"; fi
if [ "$(git rev-list --count "refs/remotes/origin/$4..HEAD")" = "0" ]; then echo nothing; exit 0; fi
git push -q origin "HEAD:refs/heads/$3" 2>&1
git fetch -q origin "$3" 2>/dev/null || true
echo "pushed $(git rev-parse --short HEAD)"`;

/**
 * After a completed turn of a session bound to a publishing provider (`ChatProvider.publishes`): commit the work on the
 * session branch and push it, so the provider can open or update its pull request. A session
 * that started on an existing branch of the repository (a pull request's head, `baseRef`)
 * pushes back to that branch. Best effort: a failure is an `error` event, the session goes on.
 */
export async function publishTurn(
  deps: RunnerDeps,
  sessionId: string,
  sandbox: ActiveSandbox,
  repo: Repository,
): Promise<void> {
  const { db } = deps.rt.database;
  const log = deps.rt.logger.child({ sessionId });
  const binding = await db.query.sessionBindings.findFirst({
    where: eq(schema.sessionBindings.sessionId, sessionId),
  });
  if (!binding || !providerNamed(deps.providers, binding.provider)?.publishes) return;
  const session = await db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId) });
  if (!session?.branch) return;
  const target = pushTarget(session);
  const compareWith = target === sessionBranch(session.id) ? repo.defaultBranch : target;
  const message = `${session.prompt.split("\n")[0]!.slice(0, 72) || "Tandem changes"}\n\nTandem session ${sessionId}`;
  const eventDeps = { db, bus: deps.rt.bus, logger: log };
  try {
    const r = await execCollect(
      deps.sandboxes,
      sandbox.id,
      ["sh", "-c", SCRIPT, "sh", sandbox.workdir, message, target, compareWith],
      {
        env: sandboxCommandEnv(sandbox.layout),
      },
    );
    if (r.exitCode !== 0) {
      const why = `${r.stdout}\n${r.stderr}`.trim().split("\n").slice(-3).join(" ");
      log.warn({ exitCode: r.exitCode, why }, "publish.failed");
      return void (await appendEvent(eventDeps, sessionId, {
        type: "error",
        message: `pushing the work to ${target} failed: ${why}`,
      }));
    }
    const out = r.stdout.trim().split("\n").at(-1) ?? "";
    if (out.startsWith("pushed ")) {
      log.info({ branch: target, commit: out.slice(7) }, "publish.pushed");
      await appendEvent(eventDeps, sessionId, {
        type: "message",
        role: "system",
        text: `Pushed ${out.slice(7)} to ${target}.`,
      });
    }
    // A session bound elsewhere (a Linear issue) gets its pull request from the repository's host
    // (which the binding's own provider is not); one bound to the host opens its own.
    const host = deps.providers.find(
      (p) => p.name !== binding.provider && p.pullRequests?.hosts(repo),
    );
    if (host?.pullRequests && out.startsWith("pushed ")) {
      await host.pullRequests.open(sessionId, log).catch(async (err: Error) => {
        log.warn({ err, host: host.name }, "publish.pull_request_failed");
        await appendEvent(eventDeps, sessionId, {
          type: "error",
          message: `opening the pull request on ${host.title} failed: ${err.message}`,
        });
      });
    }
  } catch (err) {
    log.warn({ err }, "publish.failed");
    await appendEvent(eventDeps, sessionId, {
      type: "error",
      message: `pushing the work to ${target} failed: ${(err as Error).message}`,
    });
  }
}
