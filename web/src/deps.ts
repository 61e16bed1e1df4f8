import type { Redis } from "ioredis";
import type { Clock, Config, Database, EventBus, Logger, Queues } from "@tandem/core";

/** Everything the web app needs, built by the entry point and passed in. */
export interface WebDeps {
  config: Config;
  database: Database;
  redis: Redis;
  queues: Queues;
  bus: EventBus;
  logger: Logger;
  clock: Clock;
}
