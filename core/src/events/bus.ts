import type { Redis } from "ioredis";
import type { SessionEvent } from "./types.ts";

/** Live fan-out of session events across processes (Redis pub/sub); the log in Postgres is the truth. */
export interface EventBus {
  publish(event: SessionEvent): Promise<void>;
  subscribe(sessionId: string, onEvent: (event: SessionEvent) => void): Promise<() => Promise<void>>;
}

/** `subscriber` is a dedicated connection: once subscribed, Redis allows nothing else on it. */
export function createRedisEventBus(publisher: Redis, subscriber: Redis, prefix: string): EventBus {
  const channel = (sessionId: string) => `${prefix}:session:${sessionId}:events`;
  const listeners = new Map<string, Set<(event: SessionEvent) => void>>();
  subscriber.on("message", (ch: string, raw: string) => {
    const set = listeners.get(ch);
    if (!set) return;
    const event = JSON.parse(raw) as SessionEvent;
    for (const listener of set) listener(event);
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
  };
}
