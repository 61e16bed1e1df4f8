import { and, eq, gt, inArray, lt } from "drizzle-orm";
import {
  boundSessionCache,
  every,
  schema,
  type Clock,
  type Db,
  type EventBus,
  type Logger,
  type SessionEvent,
} from "@tandem/core";
import { PROVIDER } from "./config.ts";
import { TRACKING } from "./outbound.ts";
import type { GitHubOutbox } from "./outbox.ts";

/** A session that ended a turn this long ago with its tracking comment older than that counts as missed. */
const CATCH_UP_SETTLE_MS = 5_000;
/** How far back the catch-up looks. */
const CATCH_UP_WINDOW_MS = 6 * 60 * 60_000;
const ENDED = ["idle", "failed", "stopped"] as const;

/**
 * Follows every session's live events and, for sessions bound to an issue or PR, schedules the
 * tracking comment's edit (coalesced per window) and, when a turn ends, the pull request and
 * final edit. Job ids come from the event, so several workers following the same events act once.
 * The live feed is pub/sub, which drops what nobody heard: every `catchUpMs` a session whose turn
 * ended after its tracking comment was last written gets that final edit (and its pull request).
 */
export async function followGitHubSessions(deps: {
  db: Db;
  bus: EventBus;
  logger: Logger;
  outbox: GitHubOutbox;
  clock: Clock;
  catchUpMs?: number;
}) {
  const isBound = boundSessionCache(deps.db, PROVIDER);

  const onEvent = async (event: SessionEvent) => {
    if (!(await isBound(event.sessionId))) return;
    if (event.body.type === "status" && (ENDED as readonly string[]).includes(event.body.status)) {
      return deps.outbox.send(
        { op: "summary", sessionId: event.sessionId, seq: event.seq },
        `${event.sessionId}-${event.seq}`,
      );
    }
    await deps.outbox.statusSoon(event.sessionId);
  };

  const catchUp = async () => {
    const now = deps.clock.now().getTime();
    const ended = await deps.db
      .select({
        id: schema.sessions.id,
        updatedAt: schema.sessions.updatedAt,
        seq: schema.sessions.lastEventSeq,
      })
      .from(schema.sessions)
      .innerJoin(
        schema.sessionBindings,
        and(
          eq(schema.sessionBindings.sessionId, schema.sessions.id),
          eq(schema.sessionBindings.provider, PROVIDER),
        ),
      )
      .where(
        and(
          inArray(schema.sessions.status, [...ENDED]),
          gt(schema.sessions.updatedAt, new Date(now - CATCH_UP_WINDOW_MS)),
          lt(schema.sessions.updatedAt, new Date(now - CATCH_UP_SETTLE_MS)),
        ),
      )
      .limit(100);
    for (const session of ended) {
      const [tracking] = await deps.db
        .select({ updatedAt: schema.outboundMessages.updatedAt })
        .from(schema.outboundMessages)
        .where(
          and(
            eq(schema.outboundMessages.sessionId, session.id),
            eq(schema.outboundMessages.provider, PROVIDER),
            eq(schema.outboundMessages.kind, TRACKING),
          ),
        )
        .limit(1);
      if (tracking && tracking.updatedAt >= session.updatedAt) continue;
      deps.logger.info({ sessionId: session.id, seq: session.seq }, "github.catch_up");
      await deps.outbox.send(
        { op: "summary", sessionId: session.id, seq: session.seq },
        `${session.id}-${session.seq}`,
      );
    }
  };
  const stopCatchingUp = every(deps.catchUpMs ?? 30_000, catchUp, (err) =>
    deps.logger.warn({ err }, "github.catch_up_failed"),
  );

  const unsubscribe = await deps.bus.subscribeAll((event) => {
    onEvent(event).catch((err) =>
      deps.logger.warn({ err, sessionId: event.sessionId }, "github.follow_failed"),
    );
  });
  return async () => {
    stopCatchingUp();
    await unsubscribe();
  };
}
