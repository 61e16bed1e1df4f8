import { and, eq, inArray, isNotNull, isNull, lt, notInArray, or } from "drizzle-orm";
import { requestSessionRun, schema } from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";
import { removeSandboxes } from "./runner.ts";

const TERMINAL: Array<"stopped" | "failed"> = ["stopped", "failed"];

/**
 * The safety net behind the session queue, run on a timer: wakes sessions that have work but
 * no job (Redis lost it, or a message raced a finishing job), stops sandboxes idle too long, and
 * removes the sandboxes of ended sessions.
 */
export async function sweepSessions(deps: RunnerDeps): Promise<void> {
  const { db } = deps.rt.database;
  const { sessions, sessionMessages, sessionTurns, sandboxes } = schema;

  const withWork = await db.selectDistinct({ id: sessions.id }).from(sessions)
    .leftJoin(sessionMessages, and(eq(sessionMessages.sessionId, sessions.id), isNull(sessionMessages.consumedAt)))
    .leftJoin(sessionTurns, and(eq(sessionTurns.sessionId, sessions.id), eq(sessionTurns.status, "running")))
    .where(and(notInArray(sessions.status, TERMINAL), or(isNotNull(sessionMessages.id), isNotNull(sessionTurns.id))))
    .limit(200);
  for (const { id } of withWork) await requestSessionRun(deps.rt, id);

  const idleBefore = new Date(deps.rt.clock.now().getTime() - deps.rt.config.SANDBOX_IDLE_MINUTES * 60_000);
  const idle = await db.select({ sandbox: sandboxes }).from(sandboxes)
    .innerJoin(sessions, eq(sessions.id, sandboxes.sessionId))
    .where(and(eq(sessions.status, "idle"), lt(sessions.updatedAt, idleBefore), eq(sandboxes.status, "running")));
  for (const { sandbox } of idle) {
    if (sandbox.externalId) await deps.sandboxes.stop(sandbox.externalId);
    await db.update(sandboxes).set({ status: "stopped" }).where(eq(sandboxes.id, sandbox.id));
    deps.rt.logger.info({ sessionId: sandbox.sessionId }, "sandbox.idle_stopped");
  }

  const ended = await db.selectDistinct({ id: sandboxes.sessionId }).from(sandboxes)
    .innerJoin(sessions, eq(sessions.id, sandboxes.sessionId))
    .where(and(inArray(sessions.status, TERMINAL), isNull(sandboxes.removedAt)));
  for (const { id } of ended) if (id) await removeSandboxes(deps, id);
}
