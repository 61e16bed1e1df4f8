import {
  and,
  eq,
  inArray,
  isNotNull,
  isNull,
  lt,
  notExists,
  notInArray,
  or,
  sql,
} from "drizzle-orm";
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
  const { sessions, sessionMessages, sessionTurns, sandboxes, sandboxProfileVersions } = schema;

  const withWork = await db
    .selectDistinct({ id: sessions.id })
    .from(sessions)
    .leftJoin(
      sessionMessages,
      and(eq(sessionMessages.sessionId, sessions.id), isNull(sessionMessages.consumedAt)),
    )
    .leftJoin(
      sessionTurns,
      and(eq(sessionTurns.sessionId, sessions.id), eq(sessionTurns.status, "running")),
    )
    .where(
      and(
        notInArray(sessions.status, TERMINAL),
        or(isNotNull(sessionMessages.id), isNotNull(sessionTurns.id)),
      ),
    )
    .limit(200);
  for (const { id } of withWork) await requestSessionRun(deps.rt, id);

  // Each session idles for its profile version's idleMinutes, or SANDBOX_IDLE_MINUTES.
  const idleMinutes = sql`coalesce((${sandboxProfileVersions.spec}->>'idleMinutes')::float8, ${deps.rt.config.SANDBOX_IDLE_MINUTES}::float8)`;
  const idleBefore = sql`${deps.rt.clock.now().toISOString()}::timestamptz - ${idleMinutes} * interval '1 minute'`;
  // Idle and quiet: a session with a message waiting or a turn running is about to use its
  // sandbox, however long it was idle before.
  const idleAndQuiet = (tx: typeof db) =>
    and(
      eq(sessions.status, "idle"),
      lt(sessions.updatedAt, idleBefore),
      eq(sandboxes.status, "running"),
      notExists(
        tx
          .select({ id: sessionMessages.id })
          .from(sessionMessages)
          .where(
            and(eq(sessionMessages.sessionId, sessions.id), isNull(sessionMessages.consumedAt)),
          ),
      ),
      notExists(
        tx
          .select({ id: sessionTurns.id })
          .from(sessionTurns)
          .where(and(eq(sessionTurns.sessionId, sessions.id), eq(sessionTurns.status, "running"))),
      ),
    );
  const idle = await db
    .select({ id: sandboxes.id })
    .from(sandboxes)
    .innerJoin(sessions, eq(sessions.id, sandboxes.sessionId))
    .leftJoin(sandboxProfileVersions, eq(sandboxProfileVersions.id, sessions.profileVersionId))
    .where(idleAndQuiet(db));
  for (const { id } of idle) {
    // The sandbox row stays locked while it stops: a worker waking the session (ensureSandbox
    // locks it too) waits, then finds it stopped and starts it, instead of losing it mid-start.
    await db.transaction(async (tx) => {
      const [row] = await tx
        .select({ sandbox: sandboxes })
        .from(sandboxes)
        .innerJoin(sessions, eq(sessions.id, sandboxes.sessionId))
        .leftJoin(sandboxProfileVersions, eq(sandboxProfileVersions.id, sessions.profileVersionId))
        .where(and(eq(sandboxes.id, id), idleAndQuiet(tx as unknown as typeof db)))
        .for("update", { of: sandboxes });
      if (!row) return;
      if (row.sandbox.externalId) await deps.sandboxes.stop(row.sandbox.externalId);
      await tx.update(sandboxes).set({ status: "stopped" }).where(eq(sandboxes.id, id));
      deps.rt.logger.info({ sessionId: row.sandbox.sessionId }, "sandbox.idle_stopped");
    });
  }

  const ended = await db
    .selectDistinct({ id: sandboxes.sessionId })
    .from(sandboxes)
    .innerJoin(sessions, eq(sessions.id, sandboxes.sessionId))
    .where(and(inArray(sessions.status, TERMINAL), isNull(sandboxes.removedAt)));
  for (const { id } of ended) if (id) await removeSandboxes(deps, id);
}
