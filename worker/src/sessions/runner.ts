import { and, asc, count, eq, inArray, isNull, lt } from "drizzle-orm";
import {
  AppError,
  appendEvent,
  isTerminal,
  requestSessionRun,
  schema,
  STATE_CHANGED,
  transitionSession,
  type Session,
} from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";
import { sessionAgent } from "./agent.ts";
import { recordDiffStat } from "./diff-stat.ts";
import { publishTurn } from "./publish.ts";
import { ensureSandbox } from "./sandbox.ts";
import { followTurn, startTurn } from "./turn.ts";

const ACTIVE: Session["status"][] = ["starting", "running"];

/**
 * Runs a session until it has nothing left to do: reattaches to a turn that a dead worker left
 * running, then answers unconsumed messages one turn at a time, in order. Only one job per
 * session runs at a time (the queue's job id is the session id).
 */
export async function runSession(deps: RunnerDeps, sessionId: string): Promise<void> {
  const { db } = deps.rt.database;
  const log = deps.rt.logger.child({ sessionId });
  for (;;) {
    let session = await db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId) });
    if (!session) return;
    if (isTerminal(session.status)) return endSession(deps, session);
    const repo = await db.query.repositories.findFirst({
      where: eq(schema.repositories.id, session.repositoryId),
    });
    if (!repo) return fail(deps, session, "the session's repository was removed");

    const running = await db.query.sessionTurns.findFirst({
      where: and(
        eq(schema.sessionTurns.sessionId, sessionId),
        eq(schema.sessionTurns.status, "running"),
      ),
    });
    const pending = running
      ? null
      : await db.query.sessionMessages.findFirst({
          where: and(
            eq(schema.sessionMessages.sessionId, sessionId),
            isNull(schema.sessionMessages.consumedAt),
          ),
        });
    if (!running && !pending) return;

    if (session.status === "queued") {
      const admitted = await admit(deps, session);
      if (!admitted) return; // a slot frees when another session of the org goes idle or ends
      session = admitted;
    }

    let sandbox;
    try {
      sandbox = await ensureSandbox(deps, session, repo);
      if (sandbox.recreated)
        session = (await db.query.sessions.findFirst({
          where: eq(schema.sessions.id, sessionId),
        }))!;
    } catch (err) {
      log.warn({ err }, "session.sandbox_failed");
      return fail(
        deps,
        session,
        err instanceof AppError
          ? err.message
          : `the sandbox could not start: ${(err as Error).message}`,
      );
    }

    let turn = running ?? null;
    let agent;
    try {
      agent = await sessionAgent(deps, session);
      if (!turn) turn = await startTurn(deps, session, sandbox, agent);
    } finally {
      sandbox.launcher?.close(); // a no-op once startTurn ran it
    }
    if (!turn) continue;
    if (turn === running) {
      log.info({ turn: turn.number, offset: turn.outputOffset }, "turn.reattached");
    } else {
      // "running" means the agent process is up: it is announced once the agent was launched.
      if (session.status !== "running") session = await moveSession(deps, session, "running");
      log.info({ turn: turn.number }, "turn.started");
    }

    const end = await followTurn(deps, sessionId, sandbox, turn, agent);
    log.info({ turn: turn.number, end }, "turn.ended");
    if (end === "completed" || end === "failed")
      await recordDiffStat(deps, sessionId, sandbox, repo);
    if (end === "completed") await publishTurn(deps, sessionId, sandbox, repo);
    session = (await db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId) }))!;
    if (end === "interrupted" || isTerminal(session.status)) return endSession(deps, session);
    if (end === "vanished") {
      if (!(await isPersistent(deps, sandbox.rowId)))
        return fail(
          deps,
          session,
          "the sandbox stopped or disappeared while the agent was working",
        );
      // The turn is lost, the session is not: its volumes hold the files and the agent's thread,
      // and the next message brings the sandbox back on them.
      await appendEvent(depsFor(deps), sessionId, {
        type: "error",
        message:
          "the sandbox stopped or disappeared while the agent was working; its files are kept, and the next message continues in a new sandbox",
      });
    }
    if (session.status === "running") await moveSession(deps, session, "idle");
    await admitWaiting(deps, session.orgId);
  }
}

/**
 * Moves the session, unless someone moved it first (a stop from the API or Slack): then the
 * current row, which the turn and the loop look at again, so a stop is never lost to the race.
 */
async function moveSession(
  deps: RunnerDeps,
  session: Session,
  to: "running" | "idle",
): Promise<Session> {
  try {
    return await transitionSession(depsFor(deps), session, to);
  } catch (err) {
    if (!(err instanceof AppError && err.code === STATE_CHANGED)) throw err;
    return (await deps.rt.database.db.query.sessions.findFirst({
      where: eq(schema.sessions.id, session.id),
    }))!;
  }
}

async function isPersistent(deps: RunnerDeps, sandboxRowId: string): Promise<boolean> {
  const row = await deps.rt.database.db.query.sandboxes.findFirst({
    where: eq(schema.sandboxes.id, sandboxRowId),
  });
  return row?.persistent ?? false;
}

async function endSession(deps: RunnerDeps, session: Session) {
  await removeSandboxes(deps, session.id);
  await admitWaiting(deps, session.orgId);
}

/** An ended session's sandbox goes away (stopping it first interrupts a running agent at once). */
export async function removeSandboxes(deps: RunnerDeps, sessionId: string): Promise<void> {
  const { db } = deps.rt.database;
  const rows = await db
    .select()
    .from(schema.sandboxes)
    .where(and(eq(schema.sandboxes.sessionId, sessionId), isNull(schema.sandboxes.removedAt)));
  for (const row of rows) {
    if (row.externalId) {
      await deps.sandboxes.stop(row.externalId, { timeoutMs: 2_000 });
      await deps.sandboxes.remove(row.externalId);
    }
    await db
      .update(schema.sandboxes)
      .set({ status: "removed", removedAt: deps.rt.clock.now() })
      .where(eq(schema.sandboxes.id, row.id));
    deps.rt.logger.info({ sessionId, sandbox: row.externalId }, "sandbox.removed");
  }
}

const depsFor = (deps: RunnerDeps) => ({
  db: deps.rt.database.db,
  bus: deps.rt.bus,
  logger: deps.rt.logger,
  clock: deps.rt.clock,
});

async function fail(deps: RunnerDeps, session: Session, reason: string) {
  await appendEvent(depsFor(deps), session.id, { type: "error", message: reason });
  const current = (await deps.rt.database.db.query.sessions.findFirst({
    where: eq(schema.sessions.id, session.id),
  }))!;
  if (!isTerminal(current.status))
    await transitionSession(depsFor(deps), current, "failed", reason);
  await admitWaiting(deps, session.orgId);
}

/**
 * Moves a queued session to `starting` if the org has a free slot. The org's settings row is
 * locked for the check, so two workers cannot both take the last slot.
 */
async function admit(deps: RunnerDeps, session: Session): Promise<Session | null> {
  const { db } = deps.rt.database;
  const admitted = await db.transaction(async (tx) => {
    const [settings] = await tx
      .select()
      .from(schema.orgSettings)
      .where(eq(schema.orgSettings.orgId, session.orgId))
      .for("update");
    const limit = settings?.concurrencyLimit ?? deps.rt.config.SESSION_CONCURRENCY;
    const [{ active }] = (await tx
      .select({ active: count() })
      .from(schema.sessions)
      .where(
        and(eq(schema.sessions.orgId, session.orgId), inArray(schema.sessions.status, ACTIVE)),
      )) as [{ active: number }];
    // First come, first served: a session starts only when every older queued one fits too.
    const [{ ahead }] = (await tx
      .select({ ahead: count() })
      .from(schema.sessions)
      .where(
        and(
          eq(schema.sessions.orgId, session.orgId),
          eq(schema.sessions.status, "queued"),
          lt(schema.sessions.createdAt, session.createdAt),
        ),
      )) as [{ ahead: number }];
    if (active + ahead >= limit) return false;
    const [row] = await tx
      .update(schema.sessions)
      .set({ status: "starting", updatedAt: deps.rt.clock.now() })
      .where(and(eq(schema.sessions.id, session.id), eq(schema.sessions.status, "queued")))
      .returning();
    return Boolean(row);
  });
  if (!admitted) {
    deps.rt.logger.info({ sessionId: session.id }, "session.waiting_for_slot");
    return null;
  }
  await appendEvent(depsFor(deps), session.id, { type: "status", status: "starting" });
  return (await db.query.sessions.findFirst({ where: eq(schema.sessions.id, session.id) }))!;
}

/** Wakes the org's oldest queued sessions when a slot may have freed. */
async function admitWaiting(deps: RunnerDeps, orgId: string): Promise<void> {
  const waiting = await deps.rt.database.db
    .select({ id: schema.sessions.id })
    .from(schema.sessions)
    .where(and(eq(schema.sessions.orgId, orgId), eq(schema.sessions.status, "queued")))
    .orderBy(asc(schema.sessions.createdAt))
    .limit(10);
  for (const { id } of waiting) await enqueueSession(deps, id);
}

const enqueueSession = (deps: RunnerDeps, sessionId: string) =>
  requestSessionRun(deps.rt, sessionId);
