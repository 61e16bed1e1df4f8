import type { Redis } from "ioredis";
import type { SessionEvent } from "./types.ts";

/** Live fan-out of session events across processes (Redis pub/sub); the log in Postgres is the truth. */
export interface EventBus {
  publish(event: SessionEvent): Promise<void>;
  subscribe(
    sessionId: string,
    onEvent: (event: SessionEvent) => void,
  ): Promise<() => Promise<void>>;
  /** Every session's events, for reporters that follow whichever sessions they are bound to. */
  subscribeAll(onEvent: (event: SessionEvent) => void): Promise<() => Promise<void>>;
}

/** `subscriber` is a dedicated connection: once subscribed, Redis allows nothing else on it. */
export function createRedisEventBus(publisher: Redis, subscriber: Redis, prefix: string): EventBus {
  const channel = (sessionId: string) => `${prefix}:session:${sessionId}:events`;
  // A pattern subscription: publishers keep publishing once per event, on the session's channel.
  const everySession = `${prefix}:session:*:events`;
  const listeners = new Map<string, Set<(event: SessionEvent) => void>>();
  const allListeners = new Set<(event: SessionEvent) => void>();
  subscriber.on("message", (ch: string, raw: string) => {
    const set = listeners.get(ch);
    if (!set) return;
    const event = JSON.parse(raw) as SessionEvent;
    for (const listener of set) listener(event);
  });
  subscriber.on("pmessage", (pattern: string, _ch: string, raw: string) => {
    if (pattern !== everySession || allListeners.size === 0) return;
    const event = JSON.parse(raw) as SessionEvent;
    for (const listener of allListeners) listener(event);
  });
  return {
    async publish(event) {
      await publisher.publish(channel(event.sessionId), JSON.stringify(event));
    },
    async subscribe(sessionId, onEvent) {
      const ch = channel(sessionId);
      let set = listeners.get(ch);
      if (!set) {
        set = new Set();
        listeners.set(ch, set);
        await subscriber.subscribe(ch);
      }
      set.add(onEvent);
      return async () => {
        set.delete(onEvent);
        if (set.size === 0 && listeners.get(ch) === set) {
          listeners.delete(ch);
          await subscriber.unsubscribe(ch).catch(() => {});
        }
      };
    },
    async subscribeAll(onEvent) {
      if (allListeners.size === 0) await subscriber.psubscribe(everySession);
      allListeners.add(onEvent);
      return async () => {
        allListeners.delete(onEvent);
        if (allListeners.size === 0) await subscriber.punsubscribe(everySession).catch(() => {});
      };
    },
  };
}
