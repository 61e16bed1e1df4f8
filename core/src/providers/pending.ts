import { and, eq, lt } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { pendingRequests } from "../db/schema.ts";

// A request waiting for someone to pick its repository from a menu (Slack, Discord): kept in
// `pending_requests` until picked, once, or until it expires.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function savePendingStart<T>(
  db: Db,
  clock: Clock,
  input: { provider: string; orgId: string; threadKey: string; payload: T; ttlMs: number },
) {
  const now = clock.now();
  const [row] = await db
    .insert(pendingRequests)
    .values({
      orgId: input.orgId,
      provider: input.provider,
      threadKey: input.threadKey,
      payload: input.payload,
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.ttlMs),
    })
    .returning();
  // Expired requests are only read to say so; clear them out while we are here.
  await db
    .delete(pendingRequests)
    .where(
      and(
        eq(pendingRequests.provider, input.provider),
        lt(pendingRequests.expiresAt, new Date(now.getTime() - input.ttlMs)),
      ),
    );
  return row!;
}

/**
 * Takes a pending start (once: a double click starts one session). "expired" when it is past its
 * time, "gone" when unknown or already taken.
 */
export async function takePendingStart<T>(
  db: Db,
  clock: Clock,
  input: { provider: string; orgId: string; id: string },
): Promise<T | "expired" | "gone"> {
  if (!UUID.test(input.id)) return "gone";
  const [row] = await db
    .delete(pendingRequests)
    .where(
      and(
        eq(pendingRequests.id, input.id),
        eq(pendingRequests.orgId, input.orgId),
        eq(pendingRequests.provider, input.provider),
      ),
    )
    .returning();
  if (!row) return "gone";
  return row.expiresAt > clock.now() ? (row.payload as T) : "expired";
}
