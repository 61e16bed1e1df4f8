import { Redis, type RedisOptions } from "ioredis";

/** Where Redis is: a URL from REDIS_URL, or the unix socket of the embedded server. */
export type RedisTarget = { url: string } | { socketPath: string };

/**
 * `worker` connections block and retry forever (what BullMQ workers and subscribers need);
 * `client` connections fail fast, so a request never hangs on a Redis outage.
 */
export function redisOptions(target: RedisTarget, role: "worker" | "client"): RedisOptions {
  const base: RedisOptions =
    role === "worker"
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 };
  base.retryStrategy = (attempt) => Math.min(attempt * 200, 2_000);
  if ("socketPath" in target) return { ...base, path: target.socketPath };
  const url = new URL(target.url);
  return {
    ...base,
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port ? Number(url.port) : 6379,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    tls: url.protocol === "rediss:" ? {} : undefined,
  };
}

export function connectRedis(target: RedisTarget, role: "worker" | "client"): Redis {
  const redis = new Redis(redisOptions(target, role));
  // Connection errors are retried by ioredis and surfaced by /readyz; an unhandled
  // 'error' event would crash the process instead.
  redis.on("error", () => {});
  return redis;
}
