import type { InboundEvent, Logger, Runtime } from "@tandem/core";
import { SlackTeams } from "./client.ts";
import { slackSettings } from "./config.ts";
import { followSlackSessions } from "./follow.ts";
import { CommitFirstSocketReceiver, createIngressApp } from "./ingress.ts";
import { createSlackOutbound } from "./outbound.ts";
import { SlackOutbox, type SlackOutboundJob } from "./outbox.ts";
import { createSlackRouter } from "./router.ts";

export { slackRoutes, slackManifest, type SlackRouteOptions } from "./routes.ts";
export { slackSettings, BOT_SCOPES, BOT_EVENTS, ACTIONS, threadKey } from "./config.ts";
export { slackSessionToken, type SlackSessionToken } from "./credentials.ts";
export type { SlackOutboundJob } from "./outbox.ts";

/** What the worker runs for Slack: the inbound router, the outbound processor and the reporter's follower. */
export interface SlackWorker {
  inbound(event: InboundEvent, log: Logger): Promise<void>;
  outbound(job: unknown, log: Logger): Promise<void>;
  /** Starts following session events (the reporter), catching up every `catchUpMs`; returns the function that stops it. */
  follow(opts?: { catchUpMs?: number }): Promise<() => Promise<void>>;
}

export function createSlackWorker(rt: Runtime): SlackWorker | null {
  const settings = slackSettings(rt.config);
  if (!settings) return null;
  const logger = rt.logger.child({ provider: "slack" });
  const db = rt.database.db;
  const teams = new SlackTeams({
    db,
    settings,
    logger,
    clock: rt.clock,
    defaultOrgName: rt.config.DEFAULT_ORG_NAME,
  });
  const outbox = new SlackOutbox(rt.queues.outbound, rt.clock);
  const route = createSlackRouter({
    db,
    bus: rt.bus,
    queues: rt.queues,
    logger,
    clock: rt.clock,
    publicUrl: settings.publicUrl,
    outbox,
    teams,
    allowBots: settings.allowBots,
  });
  const send = createSlackOutbound({
    db,
    clock: rt.clock,
    logger,
    redis: rt.redis,
    redisPrefix: rt.config.REDIS_PREFIX,
    teams,
    publicUrl: settings.publicUrl,
  });
  return {
    inbound: route,
    outbound: (job) => send(job as SlackOutboundJob),
    follow: (opts = {}) =>
      followSlackSessions({
        db,
        bus: rt.bus,
        logger,
        outbox,
        clock: rt.clock,
        catchUpMs: opts.catchUpMs,
      }),
  };
}

/** Socket Mode (SLACK_APP_TOKEN): the same ingress as the HTTP routes, over Slack's WebSocket. */
export async function startSlackSocketMode(
  rt: Runtime,
): Promise<{ close(): Promise<void> } | null> {
  const settings = slackSettings(rt.config);
  if (!settings?.appToken) return null;
  const logger = rt.logger.child({ provider: "slack" });
  const receiver = new CommitFirstSocketReceiver({
    appToken: settings.appToken,
    apiUrl: settings.apiUrl,
    logger,
  });
  createIngressApp(
    {
      db: rt.database.db,
      queues: rt.queues,
      logger,
      clock: rt.clock,
      apiUrl: settings.apiUrl,
      allowBots: settings.allowBots,
    },
    receiver,
  );
  await receiver.start();
  logger.info("slack.socket_mode_connected");
  return { close: async () => void (await receiver.stop()) };
}
