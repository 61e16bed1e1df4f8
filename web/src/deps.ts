import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import type {
  ChatProvider,
  Clock,
  Config,
  Database,
  EventBus,
  Logger,
  Queues,
  SandboxProvider,
} from "@tandem/core";

/** Everything the web app needs, built by the entry point and passed in. */
export interface WebDeps {
  config: Config;
  database: Database;
  redis: Redis;
  queues: Queues;
  bus: EventBus;
  logger: Logger;
  clock: Clock;
  /** The configured providers (`createProviders` in bot/src/providers.ts, called by the entry point). */
  providers: readonly ChatProvider[];
  /** The workbench reaches sandboxes through this (terminals, changes, ports); without it those answer 503. */
  sandboxes?: SandboxProvider;
  /** The registry /metrics serves; given, so the gateway (egress proxy) counts on the same one. */
  metrics?: Registry;
}
