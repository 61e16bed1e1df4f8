import { and, count, eq, lt } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { sessionMessages, sessions } from "../db/schema.ts";
import { AppError, badRequest, conflict, notFound } from "../errors.ts";
import type { EventBus } from "../events/bus.ts";
import { appendEvent } from "../events/log.ts";
import type { Logger } from "../logger.ts";
import { enqueueWithin, type Queues } from "../queue/queues.ts";
import { DEFAULT_PROFILE, resolveSessionProfileOrThrow } from "../profiles/service.ts";
import { findRepositoryByNameOrThrow } from "../repositories/service.ts";
import { primaryRepository, storedSpec } from "../profiles/spec.ts";
import { bindSession } from "./bindings.ts";
import { assertTransition, isTerminal, type SessionStatus } from "./state.ts";

export type Session = typeof sessions.$inferSelect;

/** The code of the 409 transitionSession throws when the session moved since it was read. */
export const STATE_CHANGED = "state_changed";

export interface SessionDeps {
  db: Db;
  bus: EventBus;
  queues: Queues;
  logger: Logger;
  clock: Clock;
  publicUrl: string;
}

export const sessionUrl = (publicUrl: string, id: string) =>
  `${publicUrl.replace(/\/$/, "")}/sessions/${id}`;

export async function createSession(
  deps: SessionDeps,
  input: {
    /** Absent: the profile's primary repository. */
    orgId: string;
    userId?: string;
    repository?: string;
    prompt: string;
    profile?: string;
    source?: string;
    ref?: string;
    /**
     * The provider thread the session continues (Slack thread, issue, …), bound in the same
     * transaction as the session and its first message: a failure leaves neither, so the
     * provider's retry of the event starts exactly one session.
     */
    binding?: { provider: string; threadKey: string; url?: string };
    /** The pull request the session works on, when it starts from one. */
    pullRequestUrl?: string;
  },
): Promise<Session> {
  // Every session starts from a profile version: the named one, or the org's default.
  const profileName = input.profile ?? DEFAULT_PROFILE;
  const version = await resolveSessionProfileOrThrow(
    deps.db,
    input.orgId,
    input.profile,
    input.source,
  );
  const spec = storedSpec(version.spec);
  const repository = input.repository ?? primaryRepository(spec);
  if (!repository) {
    throw badRequest(
      `name a repository (owner/repo): profile ${profileName} v${version.version} has no repositories to start on`,
    );
  }
  const repo = await findRepositoryByNameOrThrow(deps.db, input.orgId, repository);
  const profileVersionId = version.id;
  const [session] = await deps.db.transaction(async (tx) => {
    const created = await tx
      .insert(sessions)
      .values({
        orgId: input.orgId,
        createdBy: input.userId,
        repositoryId: repo.id,
        profileVersionId,
        agent: spec.agent.kind,
        prompt: input.prompt,
        baseRef: input.ref,
        source: input.source ?? "api",
        pullRequestUrl: input.pullRequestUrl,
      })
      .returning();
    await tx.insert(sessionMessages).values({
      sessionId: created[0]!.id,
      authorUserId: input.userId,
      source: input.source ?? "api",
      text: input.prompt,
    });
    if (input.binding)
      await bindSession(tx as unknown as Db, { sessionId: created[0]!.id, ...input.binding });
    return created;
  });
  const log = deps.logger.child({ sessionId: session!.id, orgId: input.orgId });
  await appendEvent({ ...deps, logger: log }, session!.id, {
    type: "message",
    role: "user",
    text: input.prompt,
  });
  await appendEvent({ ...deps, logger: log }, session!.id, { type: "status", status: "queued" });
  await deps.bus
    .publishChange({ orgId: input.orgId, sessionId: session!.id, kind: "created" })
    .catch((err) => log.warn({ err }, "event.publish_failed"));
  await requestSessionRun(deps, session!.id);
  log.info({ repository: repo.name }, "session.created");
  return session!;
}

/**
 * Asks a worker to look at the session (answer new messages, or clean up after a stop). One job
 * per session at a time: the job id is the session's, and a job already waiting or running covers
 * this request. The message is committed first, so a failed enqueue only delays it: the worker's
 * sweep finds sessions with unconsumed messages.
 */
export async function requestSessionRun(
  deps: Pick<SessionDeps, "queues" | "logger">,
  sessionId: string,
): Promise<void> {
  await enqueueWithin(deps.queues.sessionTurns, "session", { sessionId }, `session-${sessionId}`, {
    removeWhenDone: true,
  }).catch((err) => deps.logger.warn({ err, sessionId }, "session.enqueue_failed"));
}

export async function getSessionOrThrow(db: Db, orgId: string, id: string): Promise<Session> {
  const row = await db.query.sessions.findFirst({
    where: and(eq(sessions.id, id), eq(sessions.orgId, orgId)),
  });
  if (!row) throw notFound("session");
  return row;
}

/** 1 for the next queued session of its org to start, 2 for the one after, …; null when not queued. */
export async function queuePosition(
  db: Db,
  session: Pick<Session, "id" | "orgId" | "status" | "createdAt">,
): Promise<number | null> {
  if (session.status !== "queued") return null;
  const [row] = await db
    .select({ ahead: count() })
    .from(sessions)
    .where(
      and(
        eq(sessions.orgId, session.orgId),
        eq(sessions.status, "queued"),
        lt(sessions.createdAt, session.createdAt),
      ),
    );
  return (row?.ahead ?? 0) + 1;
}

/** Moves a session to `to` if its state allows it; a concurrent change makes this fail, not overwrite. */
export async function transitionSession(
  deps: Omit<SessionDeps, "queues" | "publicUrl">,
  session: Pick<Session, "id" | "status">,
  to: SessionStatus,
  reason?: string,
): Promise<Session> {
  assertTransition(session.status, to);
  const now = deps.clock.now();
  const [row] = await deps.db
    .update(sessions)
    .set({
      status: to,
      updatedAt: now,
      ...(isTerminal(to) ? { endedAt: now, error: reason ?? null } : {}),
    })
    .where(and(eq(sessions.id, session.id), eq(sessions.status, session.status)))
    .returning();
  if (!row)
    throw new AppError(
      STATE_CHANGED,
      `session ${session.id} changed state meanwhile; try again`,
      409,
    );
  await appendEvent(deps, session.id, {
    type: "status",
    status: to,
    ...(reason ? { reason } : {}),
  });
  return row;
}

export async function addMessage(
  deps: SessionDeps,
  input: {
    orgId: string;
    sessionId: string;
    userId?: string;
    text: string;
    source: string;
    echo?: boolean;
  },
) {
  const session = await getSessionOrThrow(deps.db, input.orgId, input.sessionId);
  if (isTerminal(session.status))
    throw conflict(`session is ${session.status}; start a new session to continue`);
  const [message] = await deps.db
    .insert(sessionMessages)
    .values({
      sessionId: session.id,
      authorUserId: input.userId,
      source: input.source,
      text: input.text,
    })
    .returning();
  await appendEvent(deps, session.id, {
    type: "message",
    role: "user",
    text: input.text,
    source: input.source,
    ...(input.echo ? { echo: true } : {}),
  });
  await requestSessionRun(deps, session.id);
  return message!;
}

/**
 * Stops the session. A worker may move it at the same moment (a turn ending, a sandbox
 * starting): the stop reads it again and wins, rather than telling the user to try again.
 */
export async function stopSession(
  deps: SessionDeps,
  orgId: string,
  id: string,
  reason = "stopped by user",
) {
  for (let attempt = 1; ; attempt++) {
    const session = await getSessionOrThrow(deps.db, orgId, id);
    if (session.status === "stopped") return session;
    try {
      const stopped = await transitionSession(deps, session, "stopped", reason);
      await requestSessionRun(deps, id); // a running turn notices by itself; an idle sandbox needs a worker
      return stopped;
    } catch (err) {
      if (!(err instanceof AppError && err.code === STATE_CHANGED) || attempt >= 5) throw err;
    }
  }
}
