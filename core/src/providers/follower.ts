import { and, desc, eq, gt, inArray, lt } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { sessionBindings, sessionEvents, sessions } from "../db/schema.ts";
import type { EventBus } from "../events/bus.ts";
import type { SessionEvent } from "../events/types.ts";
import type { Logger } from "../logger.ts";
import { boundSessionCache } from "../sessions/bindings.ts";
import type { SessionStatus } from "../sessions/state.ts";
import { every } from "../util/every.ts";

/** A turn end older than this that is not in the origin counts as missed by the live feed. */
const CATCH_UP_SETTLE_MS = 5_000;
/** How far back the catch-up looks. */
const CATCH_UP_WINDOW_MS = 6 * 60 * 60_000;

/** The last status event of a session whose turn ended: what a reporter posts a summary for. */
export interface TurnEnd {
  sessionId: string;
  /** The status event's seq: the key that makes its report idempotent. */
  seq: number;
  status: SessionStatus;
  /** When the session last changed (its row's `updated_at`). */
  updatedAt: Date;
}

export interface FollowerOptions {
  provider: string;
  db: Db;
  bus: EventBus;
  logger: Logger;
  clock: Clock;
  catchUpMs?: number;
  /** The statuses whose turn end the provider reports (the summary, the final edit). */
  endStatuses: readonly SessionStatus[];
  /** A live event of a session bound to this provider. */
  onEvent(event: SessionEvent): Promise<void>;
  /** A live event of any other session (Slack: a freed slot moves the queue positions it shows). */
  onOtherEvent?(event: SessionEvent): Promise<void>;
  /** Whether the origin already shows this turn end. */
  reported(end: TurnEnd): Promise<boolean>;
  /** Reports a turn end the live feed missed (the same idempotent jobs the live path queues). */
  report(end: TurnEnd): Promise<void>;
}

/**
 * Follows every session's live events for one provider: events of the sessions bound to it go to
 * `onEvent` (which queues outbound jobs whose ids come from the event, so several workers
 * following the same events act once). The live feed is pub/sub, which drops what nobody heard
 * (a worker restarting, a Redis blip): every `catchUpMs` the bound sessions whose turn ended in
 * the last hours are read from the event log, and each end the origin does not show is reported.
 * Resolves to the function that stops following.
 */
export async function followBoundSessions(opts: FollowerOptions): Promise<() => Promise<void>> {
  const { db, provider, logger } = opts;
  const isBound = boundSessionCache(db, provider);

  const catchUp = async () => {
    const now = opts.clock.now().getTime();
    const ended = await db
      .select({ id: sessions.id, updatedAt: sessions.updatedAt })
      .from(sessions)
      .innerJoin(
        sessionBindings,
        and(eq(sessionBindings.sessionId, sessions.id), eq(sessionBindings.provider, provider)),
      )
      .where(
        and(
          inArray(sessions.status, [...opts.endStatuses]),
          gt(sessions.updatedAt, new Date(now - CATCH_UP_WINDOW_MS)),
          lt(sessions.updatedAt, new Date(now - CATCH_UP_SETTLE_MS)),
        ),
      )
      .limit(100);
    for (const session of ended) {
      const [last] = await db
        .select({ seq: sessionEvents.seq, data: sessionEvents.data })
        .from(sessionEvents)
        .where(and(eq(sessionEvents.sessionId, session.id), eq(sessionEvents.type, "status")))
        .orderBy(desc(sessionEvents.seq))
        .limit(1);
      const status = (last?.data as { status?: SessionStatus } | undefined)?.status;
      if (!last || !status || !opts.endStatuses.includes(status)) continue;
      const end = { sessionId: session.id, seq: last.seq, status, updatedAt: session.updatedAt };
      if (await opts.reported(end)) continue;
      logger.info({ sessionId: end.sessionId, seq: end.seq, status }, `${provider}.catch_up`);
      await opts.report(end);
    }
  };
  const stopCatchingUp = every(opts.catchUpMs ?? 30_000, catchUp, (err) =>
    logger.warn({ err }, `${provider}.catch_up_failed`),
  );

  const onEvent = async (event: SessionEvent) => {
    if (await isBound(event.sessionId)) await opts.onEvent(event);
    else await opts.onOtherEvent?.(event);
  };
  const unsubscribe = await opts.bus.subscribeAll((event) => {
    onEvent(event).catch((err) =>
      logger.warn({ err, sessionId: event.sessionId }, `${provider}.follow_failed`),
    );
  });
  return async () => {
    stopCatchingUp();
    await unsubscribe();
  };
}
