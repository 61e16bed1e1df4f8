import type { ChatProvider, Runtime } from "@tandem/core";
import { DiscordApi, DiscordGuilds } from "./client.ts";
import { discordSettings, parseThreadKey, PROVIDER } from "./config.ts";
import { connectDiscord } from "./connection.ts";
import { followDiscordSessions } from "./follow.ts";
import { createDiscordOutbound } from "./outbound.ts";
import { DiscordOutbox, type DiscordOutboundJob } from "./outbox.ts";
import { createDiscordRouter } from "./router.ts";
import { discordRoutes } from "./routes.ts";
import { discordSettingsRoutes } from "./settings-routes.ts";

/**
 * Discord as a provider: the gateway (mentions, messages in session threads) in the bot process,
 * the interactions endpoint (`/tandem`, Stop, the repository menu) in the web app, a thread per
 * session with one status message edited in place and a summary per turn. Null without the
 * bot's token and application id.
 */
export function discordProvider(rt: Runtime): ChatProvider | null {
  const settings = discordSettings(rt.config);
  if (!settings) return null;
  const logger = rt.logger.child({ provider: PROVIDER });
  const db = rt.database.db;
  const api = new DiscordApi(settings);
  const guilds = new DiscordGuilds({ db, defaultOrgName: rt.config.DEFAULT_ORG_NAME });
  const outbox = new DiscordOutbox(rt.queues.outbound, rt.clock);
  const route = createDiscordRouter({
    db,
    bus: rt.bus,
    queues: rt.queues,
    logger,
    clock: rt.clock,
    publicUrl: settings.publicUrl,
    settings,
    api,
    guilds,
    outbox,
  });
  const send = createDiscordOutbound({
    db,
    clock: rt.clock,
    logger,
    redis: rt.redis,
    redisPrefix: rt.config.REDIS_PREFIX,
    api,
    publicUrl: settings.publicUrl,
  });
  return {
    name: PROVIDER,
    title: "Discord",
    routes: async (app, access) => {
      if (settings.publicKey)
        await discordRoutes(app, {
          publicKey: settings.publicKey,
          db,
          queues: rt.queues,
          logger: rt.logger,
          clock: rt.clock,
        });
      discordSettingsRoutes(app, { settings, db, logger, api, guilds, adminOrg: access.adminOrg });
    },
    inbound: route,
    outbound: (job, log) => send(job as DiscordOutboundJob, log),
    follow: ({ catchUpMs }) =>
      followDiscordSessions({ db, bus: rt.bus, logger, outbox, clock: rt.clock, catchUpMs }),
    connect: () =>
      connectDiscord({
        settings,
        db,
        queues: rt.queues,
        logger,
        clock: rt.clock,
        guilds,
        api,
      }),
    originUrl: (key) => {
      const thread = parseThreadKey(key);
      return thread ? `https://discord.com/channels/${thread.guildId}/${thread.threadId}` : null;
    },
    // The work leaves as a pull request, opened by the repository's host (the GitHub App).
    publishes: true,
  };
}
