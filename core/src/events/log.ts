import { and, asc, eq, gt, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessionEvents, sessions } from "../db/schema.ts";
import { notFound } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { EventBus } from "./bus.ts";
import type { SessionEvent, SessionEventBody } from "./types.ts";

/** A stored event row's body: its type column and its data, as appended. */
export const eventRowBody = (row: Pick<typeof sessionEvents.$inferSelect, "type" | "data">) =>
  ({ type: row.type, ...(row.data as object) }) as SessionEventBody;

const toEvent = (row: typeof sessionEvents.$inferSelect): SessionEvent => ({
  sessionId: row.sessionId,
  seq: row.seq,
  createdAt: row.createdAt.toISOString(),
  body: eventRowBody(row),
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
  const [event] = await appendEvents(deps, sessionId, [body]);
  return event!;
}

/**
 * Appends several events in one transaction; `alsoInTx` commits other writes with them (the
 * worker stores how far it has read the agent's output, so a crash neither loses nor repeats).
 */
export async function appendEvents(
  deps: { db: Db; bus: EventBus; logger: Logger },
  sessionId: string,
  bodies: SessionEventBody[],
  alsoInTx?: (tx: Db) => Promise<void>,
): Promise<SessionEvent[]> {
  let orgId: string | undefined;
  const rows = await deps.db.transaction(async (tx) => {
    const inserted: Array<typeof sessionEvents.$inferSelect> = [];
    if (bodies.length > 0) {
      const [counter] = await tx
        .update(sessions)
        .set({ lastEventSeq: sql`${sessions.lastEventSeq} + ${bodies.length}` })
        .where(eq(sessions.id, sessionId))
        .returning({ last: sessions.lastEventSeq, orgId: sessions.orgId });
      if (!counter) throw notFound("session");
      orgId = counter.orgId;
      const first = counter.last - bodies.length + 1;
      inserted.push(
        ...(await tx
          .insert(sessionEvents)
          .values(
            bodies.map(({ type, ...data }, i) => ({
              sessionId,
              type,
              data,
              seq: first + i,
            })),
          )
          .returning()),
      );
    }
    await alsoInTx?.(tx as unknown as Db);
    return inserted;
  });
  const events = rows.sort((a, b) => a.seq - b.seq).map(toEvent);
  // The log is committed; a lost live publish is recovered by SSE replay.
  for (const event of events) {
    await deps.bus
      .publish(event)
      .catch((err) => deps.logger.warn({ err, sessionId }, "event.publish_failed"));
  }
  const change = listChange(bodies);
  if (orgId && change)
    await deps.bus
      .publishChange({ orgId, sessionId, kind: change })
      .catch((err) => deps.logger.warn({ err, sessionId }, "event.publish_failed"));
  return events;
}

/**
 * What of the events changes the session's row in a list. A new session's "queued" is left out:
 * createSession announces the session itself, once its first events are in.
 */
function listChange(bodies: SessionEventBody[]): "status" | "diff_stat" | null {
  if (bodies.some((b) => b.type === "status" && b.status !== "queued")) return "status";
  if (bodies.some((b) => b.type === "diff_stat")) return "diff_stat";
  return null;
}

export async function listEventsAfter(
  db: Db,
  sessionId: string,
  afterSeq: number,
  limit = 500,
): Promise<SessionEvent[]> {
  const rows = await db
    .select()
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.seq, afterSeq)))
    .orderBy(asc(sessionEvents.seq))
    .limit(limit);
  return rows.map(toEvent);
}
