import { Client, Events, GatewayIntentBits } from "discord.js";
import {
  acceptInbound,
  findBoundSession,
  type Clock,
  type Db,
  type Logger,
  type ProviderConnection,
  type Queues,
} from "@tandem/core";
import type { DiscordApi, DiscordGuilds } from "./client.ts";
import { PROVIDER, threadKey, type DiscordSettings } from "./config.ts";
import { mentionsBot, type DiscordInbound } from "./trigger-source.ts";

/** How long a message is retried into the inbox while the database is away (the gateway cannot redeliver). */
const COMMIT_RETRIES_MS = [250, 1_000, 5_000, 15_000, 30_000];

interface Packet {
  t?: string | null;
  d?: unknown;
}

/**
 * The bot's gateway connection (discord.js): the intents it needs (guilds, their messages, the
 * messages' content), every guild it is in recorded as an installation, and each message that
 * mentions the bot or is written in a session's thread committed to the inbox, deduplicated on
 * the message id (a resumed connection replays events). The worker does the rest.
 */
export async function connectDiscord(deps: {
  settings: DiscordSettings;
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
  guilds: DiscordGuilds;
  api: DiscordApi;
}): Promise<ProviderConnection> {
  const log = deps.logger;
  const client = new Client({
    intents: [
      GatewayIntentBits.Guilds,
      GatewayIntentBits.GuildMessages,
      GatewayIntentBits.MessageContent,
    ],
    rest: { api: deps.settings.apiUrl },
  });
  let closing = false;
  let readyUserId = "";
  const botUserId = () => client.user?.id ?? readyUserId;

  const commit = async (message: Record<string, unknown>) => {
    const payload: DiscordInbound = { source: "gateway", botUserId: botUserId(), message };
    for (let attempt = 0; ; attempt++) {
      try {
        const { duplicate } = await acceptInbound(deps, {
          provider: PROVIDER,
          deliveryId: `message-${String(message.id)}`,
          payload,
        });
        return log.debug({ messageId: message.id, duplicate }, "discord.message_committed");
      } catch (err) {
        const wait = COMMIT_RETRIES_MS[attempt];
        if (wait === undefined || closing)
          return log.error({ err, messageId: message.id }, "discord.message_not_committed");
        log.warn({ err, messageId: message.id }, "discord.commit_retrying");
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };

  /** Only what can concern a session reaches the inbox: the rest of the server's talk stays out. */
  const onMessage = async (m: Record<string, unknown>) => {
    const author = (m.author ?? {}) as { id?: string; bot?: boolean };
    if (author.bot || author.id === botUserId() || typeof m.guild_id !== "string") return;
    if (mentionsBot(m, botUserId())) return commit(m);
    const bound = await findBoundSession(
      deps.db,
      PROVIDER,
      threadKey(m.guild_id, String(m.channel_id)),
    );
    if (bound) return commit(m);
  };

  client.on(Events.Raw, (packet: Packet) => {
    const d = (packet.d ?? {}) as Record<string, unknown>;
    switch (packet.t) {
      case "READY":
        readyUserId = String((d.user as { id?: string } | undefined)?.id ?? "");
        return;
      case "GUILD_CREATE":
        return void deps.guilds
          .ensure(String(d.id), typeof d.name === "string" ? d.name : undefined)
          .catch((err: unknown) => log.warn({ err, guildId: d.id }, "discord.guild_not_recorded"));
      case "MESSAGE_CREATE":
        // A copy taken now: discord.js goes on to handle the same object, and links it to itself.
        return void onMessage(structuredClone(d)).catch((err: unknown) =>
          log.error({ err, messageId: d.id }, "discord.message_failed"),
        );
    }
  });
  client.on(Events.ShardResume, (_id, replayed) => log.info({ replayed }, "discord.resumed"));
  client.on(Events.ShardDisconnect, (event) =>
    log.warn({ code: event.code }, "discord.disconnected"),
  );
  client.on(Events.Error, (err) => log.warn({ err }, "discord.client_error"));

  // The slash command is registered on every start: overwriting it is idempotent.
  await deps.api
    .registerCommands()
    .catch((err: unknown) => log.warn({ err }, "discord.commands_not_registered"));
  await client.login(deps.settings.token);
  log.info("discord.gateway_connected");
  return {
    close: async () => {
      closing = true;
      await client.destroy();
    },
  };
}
