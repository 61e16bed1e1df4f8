import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { and, eq } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { outboundMessages } from "../db/schema.ts";
import { RetryLaterError } from "../errors.ts";

/** One message a provider posted for a session: `kind` ("status", "summary-12"…) in `target` (a thread). */
export interface OutboundKey {
  sessionId: string;
  provider: string;
  kind: string;
  target: string;
}

/**
 * The `outbound_messages` rows of a provider: the id of each message it posted, so the status
 * message is edited in place rather than reposted and a retried job posts a summary once.
 */
export const outboundRecord = {
  async find(db: Db, key: OutboundKey) {
    const row = await db.query.outboundMessages.findFirst({
      where: and(
        eq(outboundMessages.sessionId, key.sessionId),
        eq(outboundMessages.provider, key.provider),
        eq(outboundMessages.kind, key.kind),
        eq(outboundMessages.target, key.target),
      ),
    });
    return row ?? null;
  },

  /** Whether any message of `kind` was posted for the session, in any target. */
  async exists(db: Db, key: Omit<OutboundKey, "target">): Promise<boolean> {
    const row = await db.query.outboundMessages.findFirst({
      where: and(
        eq(outboundMessages.sessionId, key.sessionId),
        eq(outboundMessages.provider, key.provider),
        eq(outboundMessages.kind, key.kind),
      ),
      columns: { id: true },
    });
    return row !== undefined;
  },

  /** Records (or moves) the message's provider id, stamped now: edits are rate-limited from it. */
  async remember(db: Db, clock: Clock, key: OutboundKey, externalId: string): Promise<void> {
    const now = clock.now();
    await db
      .insert(outboundMessages)
      .values({ ...key, externalId, updatedAt: now })
      .onConflictDoUpdate({
        target: [
          outboundMessages.sessionId,
          outboundMessages.provider,
          outboundMessages.kind,
          outboundMessages.target,
        ],
        set: { externalId, updatedAt: now },
      });
  },
};

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/**
 * Runs `fn` holding `key` across workers (a Redis lock, 15 s at most): one render of a session's
 * status message at a time, so its first post never happens twice. Held elsewhere: retry later.
 */
export async function withRedisLock(
  redis: Redis,
  key: string,
  fn: () => Promise<void>,
  busy = { retryMs: 250, reason: "another worker is updating this status message" },
): Promise<void> {
  const token = randomUUID();
  if ((await redis.set(key, token, "PX", 15_000, "NX")) !== "OK")
    throw new RetryLaterError(busy.retryMs, busy.reason);
  try {
    await fn();
  } finally {
    await redis.eval(RELEASE, 1, key, token).catch(() => {});
  }
}
