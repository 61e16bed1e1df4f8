import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { inboundEvents } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import { enqueueWithin, type Queues } from "../queue/queues.ts";

export type InboundEvent = typeof inboundEvents.$inferSelect;

export interface InboxDeps {
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
}

export interface InboundDelivery {
  provider: string;
  deliveryId: string;
  orgId?: string;
  payload: unknown;
}

/**
 * Commits a provider delivery; once this resolves the caller may acknowledge it.
 * A repeated delivery id is reported as a duplicate and not enqueued again.
 * The enqueue runs after the commit and may fail: the sweeper picks those up.
 */
export async function acceptInbound(
  deps: InboxDeps,
  delivery: InboundDelivery,
): Promise<{ id: string | null; duplicate: boolean; enqueued: Promise<boolean> }> {
  const [row] = await deps.db
    .insert(inboundEvents)
    .values({
      provider: delivery.provider,
      deliveryId: delivery.deliveryId,
      orgId: delivery.orgId,
      payload: delivery.payload as object,
    })
    .onConflictDoNothing()
    .returning({ id: inboundEvents.id });
  if (!row) return { id: null, duplicate: true, enqueued: Promise.resolve(false) };
  return { id: row.id, duplicate: false, enqueued: enqueueInbound(deps, row.id) };
}

async function enqueueInbound(deps: InboxDeps, id: string): Promise<boolean> {
  try {
    await enqueueWithin(deps.queues.inbound, "inbound", { inboundEventId: id }, id);
    await deps.db
      .update(inboundEvents)
      .set({ enqueuedAt: deps.clock.now() })
      .where(eq(inboundEvents.id, id));
    return true;
  } catch (err) {
    deps.logger.warn({ err, inboundEventId: id }, "inbox.enqueue_failed");
    return false;
  }
}

/**
 * Re-enqueues committed events that were never enqueued, or were enqueued long enough ago
 * (`staleMs`) that the job may have been lost with Redis. Job ids are the event ids, so a job
 * still in the queue is not duplicated.
 */
export async function sweepInbox(
  deps: InboxDeps,
  opts: { staleMs: number; limit?: number },
): Promise<number> {
  const staleBefore = new Date(deps.clock.now().getTime() - opts.staleMs);
  const rows = await deps.db
    .select({ id: inboundEvents.id })
    .from(inboundEvents)
    .where(
      and(
        isNull(inboundEvents.processedAt),
        or(isNull(inboundEvents.enqueuedAt), lt(inboundEvents.enqueuedAt, staleBefore)),
      ),
    )
    .orderBy(asc(inboundEvents.receivedAt))
    .limit(opts.limit ?? 500);
  let enqueued = 0;
  for (const row of rows) {
    if (await enqueueInbound(deps, row.id)) enqueued++;
    else break; // Redis is still away; the next sweep tries again.
  }
  if (rows.length > 0) deps.logger.info({ found: rows.length, enqueued }, "inbox.swept");
  return enqueued;
}

/** Claims the event for processing; null when another worker already finished it. */
export async function loadUnprocessed(db: Db, id: string): Promise<InboundEvent | null> {
  const [row] = await db
    .update(inboundEvents)
    .set({ attempts: sql`${inboundEvents.attempts} + 1` })
    .where(and(eq(inboundEvents.id, id), isNull(inboundEvents.processedAt)))
    .returning();
  return row ?? null;
}

export async function markProcessed(
  db: Db,
  clock: Clock,
  id: string,
  error?: string,
): Promise<void> {
  await db
    .update(inboundEvents)
    .set({ processedAt: clock.now(), error: error ?? null })
    .where(eq(inboundEvents.id, id));
}
