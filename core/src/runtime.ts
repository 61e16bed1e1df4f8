import type { Redis } from "ioredis";
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import type { Config } from "./config.ts";
import { openDatabase, type Database } from "./db/client.ts";
import { createRedisEventBus, type EventBus } from "./events/bus.ts";
import type { Logger } from "./logger.ts";
import { closeQueues, createQueues, type Queues } from "./queue/queues.ts";
import { connectRedis, redisOptions, type RedisTarget } from "./redis/connect.ts";
import { startEmbeddedRedis } from "./redis/embedded.ts";

/** The shared plumbing every process entry point starts with. */
export interface Runtime {
  config: Config;
  logger: Logger;
  clock: Clock;
  database: Database;
  redisTarget: RedisTarget;
  redis: Redis;
  queues: Queues;
  bus: EventBus;
  close(): Promise<void>;
}

export async function openRuntime(
  config: Config,
  logger: Logger,
  opts: { embeddedRedis?: boolean } = {},
): Promise<Runtime> {
  const closers: Array<() => Promise<unknown>> = [];
  try {
    let redisTarget: RedisTarget;
    if (config.REDIS_URL) {
      redisTarget = { url: config.REDIS_URL };
    } else if (opts.embeddedRedis) {
      const embedded = await startEmbeddedRedis(config.DATA_DIR);
      closers.push(() => embedded.stop());
      redisTarget = { socketPath: embedded.socketPath };
      logger.info({ socketPath: embedded.socketPath }, "redis.embedded_started");
    } else {
      throw new Error("REDIS_URL is required when the processes run separately");
    }
    const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
    closers.push(() => database.close());
    logger.info({ kind: database.kind }, "database.ready");

    const redis = connectRedis(redisTarget, "client");
    const publisher = connectRedis(redisTarget, "worker");
    const subscriber = connectRedis(redisTarget, "worker");
    const queues = createQueues(redisOptions(redisTarget, "client"), config.REDIS_PREFIX);
    closers.push(async () => {
      await closeQueues(queues);
      for (const c of [redis, publisher, subscriber]) c.disconnect();
    });
    const bus = createRedisEventBus(publisher, subscriber, config.REDIS_PREFIX, logger);
    return {
      config,
      logger,
      clock: systemClock,
      database,
      redisTarget,
      redis,
      queues,
      bus,
      close: () => closeAll(closers),
    };
  } catch (err) {
    await closeAll(closers);
    throw err;
  }
}

async function closeAll(closers: Array<() => Promise<unknown>>) {
  for (const close of closers.reverse()) await close().catch(() => {});
}
