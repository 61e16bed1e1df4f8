import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessionEvents } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import type { EventBus } from "./bus.ts";
import type { SessionEvent, SessionEventBody } from "./types.ts";

const UNIQUE_VIOLATION = "23505";

const toEvent = (row: typeof sessionEvents.$inferSelect): SessionEvent => ({
  sessionId: row.sessionId,
  seq: row.seq,
  createdAt: row.createdAt.toISOString(),
  body: { type: row.type, ...(row.data as object) } as SessionEventBody,
});

/**
 * Appends to the session's log with the next `seq`, then publishes it live.
 * Two writers racing for one seq: the loser retries with the next number.
 */
export async function appendEvent(
  deps: { db: Db; bus: EventBus; logger: Logger },
  sessionId: string,
  body: SessionEventBody,
): Promise<SessionEvent> {
  const { type, ...data } = body;
  for (let attempt = 0; ; attempt++) {
    try {
      const [row] = await deps.db
        .insert(sessionEvents)
        .values({
          sessionId,
          type,
          data,
          seq: sql`(select coalesce(max(${sessionEvents.seq}), 0) + 1 from ${sessionEvents} where ${sessionEvents.sessionId} = ${sessionId})`,
        })
        .returning();
      const event = toEvent(row!);
      // The log is committed; a lost live publish is recovered by SSE replay.
      await deps.bus.publish(event).catch((err) => deps.logger.warn({ err, sessionId }, "event.publish_failed"));
      return event;
    } catch (err) {
      if (attempt < 5 && pgCode(err) === UNIQUE_VIOLATION) continue;
      throw err;
    }
  }
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

function pgCode(err: unknown): string | undefined {
  let e: unknown = err;
  // drizzle wraps driver errors; the code sits on the cause.
  for (let i = 0; i < 3 && e && typeof e === "object"; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
