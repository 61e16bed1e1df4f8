import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessionEvents, sessions } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { EventBus } from "./bus.ts";
import type { SessionEvent, SessionEventBody } from "./types.ts";

const toEvent = (row: typeof sessionEvents.$inferSelect): SessionEvent => ({
  sessionId: row.sessionId,
  seq: row.seq,
  createdAt: row.createdAt.toISOString(),
  body: { type: row.type, ...(row.data as object) } as SessionEventBody,
});

/**
 * Appends to the session's log with the next `seq`, then publishes it live. The seq comes from
 * the session row, whose lock is held until commit: a reader never sees seq n+1 before n.
 */
export async function appendEvent(
  deps: { db: Db; bus: EventBus; logger: Logger },
  sessionId: string,
  body: SessionEventBody,
): Promise<SessionEvent> {
  const { type, ...data } = body;
  const row = await deps.db.transaction(async (tx) => {
    const [counter] = await tx
      .update(sessions)
      .set({ lastEventSeq: sql`${sessions.lastEventSeq} + 1` })
      .where(eq(sessions.id, sessionId))
      .returning({ seq: sessions.lastEventSeq });
    if (!counter) throw notFound("session");
    const [inserted] = await tx.insert(sessionEvents).values({ sessionId, type, data, seq: counter.seq }).returning();
    return inserted!;
  });
  const event = toEvent(row);
  // The log is committed; a lost live publish is recovered by SSE replay.
  await deps.bus.publish(event).catch((err) => deps.logger.warn({ err, sessionId }, "event.publish_failed"));
  return event;
}

export async function listEventsAfter(db: Db, sessionId: string, afterSeq: number, limit = 500): Promise<SessionEvent[]> {
  const rows = await db
    .select()
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.seq, afterSeq)))
    .orderBy(asc(sessionEvents.seq))
    .limit(limit);
  return rows.map(toEvent);
}
