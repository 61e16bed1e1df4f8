import type { Redis } from "ioredis";
import { z } from "zod";
import type { Logger } from "../logger.ts";
import type { SessionEvent } from "./types.ts";

/** A session of an org appeared or changed what its list row shows; readers load the row again. */
const sessionChange = z.strictObject({
  orgId: z.uuid(),
  sessionId: z.uuid(),
  kind: z.enum(["created", "status", "title", "diff_stat", "deleted"]),
});
export type SessionChange = z.infer<typeof sessionChange>;

/** What a session-event message must look like before listeners see it (its body is theirs). */
const sessionEventEnvelope = z.object({
  sessionId: z.string(),
  seq: z.number().int(),
  createdAt: z.string(),
  body: z.looseObject({ type: z.string() }),
});

/** Live fan-out of session events across processes (Redis pub/sub); the log in Postgres is the truth. */
export interface EventBus {
  publish(event: SessionEvent): Promise<void>;
  subscribe(
    sessionId: string,
    onEvent: (event: SessionEvent) => void,
  ): Promise<() => Promise<void>>;
  /** Every session's events, for reporters that follow whichever sessions they are bound to. */
  subscribeAll(onEvent: (event: SessionEvent) => void): Promise<() => Promise<void>>;
  /** Tells the org's open session lists that a session was created or changed. */
  publishChange(change: SessionChange): Promise<void>;
  subscribeChanges(
    orgId: string,
    onChange: (change: SessionChange) => void,
  ): Promise<() => Promise<void>>;
}

/**
 * `subscriber` is a dedicated connection: once subscribed, Redis allows nothing else on it.
 * Every message is parsed and checked before a listener sees it: anything else on a channel
 * (another version, a hand-typed PUBLISH) is logged and dropped, never thrown into ioredis.
 */
export function createRedisEventBus(
  publisher: Redis,
  subscriber: Redis,
  prefix: string,
  logger?: Logger,
): EventBus {
  const channel = (sessionId: string) => `${prefix}:session:${sessionId}:events`;
  const orgChannel = (orgId: string) => `${prefix}:org:${orgId}:sessions`;
  // A pattern subscription: publishers keep publishing once per event, on the session's channel.
  const everySession = `${prefix}:session:*:events`;
  const listeners = new Map<string, Set<(message: never) => void>>();
  const allListeners = new Set<(event: SessionEvent) => void>();
  const read = <T>(schema: z.ZodType<T>, ch: string, raw: string): T | null => {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      json = undefined;
    }
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
    logger?.warn({ channel: ch, message: raw.slice(0, 200) }, "bus.message_dropped");
    return null;
  };
  const isOrgChannel = (ch: string) => ch.startsWith(`${prefix}:org:`);
  subscriber.on("message", (ch: string, raw: string) => {
    const set = listeners.get(ch);
    if (!set) return;
    const message = isOrgChannel(ch)
      ? read(sessionChange, ch, raw)
      : (read(sessionEventEnvelope, ch, raw) as SessionEvent | null);
    if (!message) return;
    for (const listener of set) (listener as (m: typeof message) => void)(message);
  });
  subscriber.on("pmessage", (pattern: string, ch: string, raw: string) => {
    if (pattern !== everySession || allListeners.size === 0) return;
    const event = read(sessionEventEnvelope, ch, raw) as SessionEvent | null;
    if (!event) return;
    for (const listener of allListeners) listener(event);
  });
  async function listen<T>(ch: string, onMessage: (m: T) => void) {
    let set = listeners.get(ch);
    if (!set) {
      set = new Set();
      listeners.set(ch, set);
      await subscriber.subscribe(ch);
    }
    const listener = onMessage as (m: never) => void;
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (set.size === 0 && listeners.get(ch) === set) {
        listeners.delete(ch);
        await subscriber.unsubscribe(ch).catch(() => {});
      }
    };
  }
  return {
    async publish(event) {
      await publisher.publish(channel(event.sessionId), JSON.stringify(event));
    },
    subscribe: (sessionId, onEvent) => listen(channel(sessionId), onEvent),
    async subscribeAll(onEvent) {
      if (allListeners.size === 0) await subscriber.psubscribe(everySession);
      allListeners.add(onEvent);
      return async () => {
        allListeners.delete(onEvent);
        if (allListeners.size === 0) await subscriber.punsubscribe(everySession).catch(() => {});
      };
    },
    async publishChange(change) {
      await publisher.publish(orgChannel(change.orgId), JSON.stringify(change));
    },
    subscribeChanges: (orgId, onChange) => listen(orgChannel(orgId), onChange),
  };
}
