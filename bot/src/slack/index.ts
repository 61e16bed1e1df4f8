import type { ChatProvider, Runtime } from "@tandem/core";
import { SlackTeams } from "./client.ts";
import { PROVIDER, slackSettings } from "./config.ts";
import { followSlackSessions } from "./follow.ts";
import { slackIntegration } from "./gateway.ts";
import { CommitFirstSocketReceiver, createIngressApp } from "./ingress.ts";
import { createSlackOutbound } from "./outbound.ts";
import { SlackOutbox, type SlackOutboundJob } from "./outbox.ts";
import { createSlackRouter } from "./router.ts";
import { slackRoutes } from "./routes.ts";

/**
 * Slack as a provider: the Events API, interactivity and /tandem routes (or Socket Mode), the
 * router, the outbound jobs and the reporter that keeps one status message per thread. Null when
 * Slack is not configured (no bot token and no OAuth app).
 */
export function slackProvider(rt: Runtime): ChatProvider | null {
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
    name: PROVIDER,
    title: "Slack",
    routes: (app, access) =>
      slackRoutes(app, {
        config: rt.config,
        db,
        queues: rt.queues,
        logger: rt.logger,
        clock: rt.clock,
        adminOrg: access.adminOrg,
      }),
    inbound: route,
    outbound: (job) => send(job as SlackOutboundJob),
    follow: ({ catchUpMs }) =>
      followSlackSessions({ db, bus: rt.bus, logger, outbox, clock: rt.clock, catchUpMs }),
    connect: () => startSlackSocketMode(rt),
    originUrl,
    integration: slackIntegration({ config: rt.config, db }) ?? undefined,
  };
}

/** Slack's app_redirect opens the thread's message in the workspace. */
function originUrl(key: string): string | null {
  const [team, channel, ts, ...rest] = key.split(":");
  if (!team || !channel || !ts || rest.length) return null;
  return `https://slack.com/app_redirect?${new URLSearchParams({ team, channel, message_ts: ts })}`;
}

/** Socket Mode (SLACK_APP_TOKEN): the same ingress as the HTTP routes, over Slack's WebSocket. */
async function startSlackSocketMode(rt: Runtime): Promise<{ close(): Promise<void> } | null> {
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
