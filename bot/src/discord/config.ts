import type { Config } from "@tandem/core";

export const PROVIDER = "discord";

export interface DiscordSettings {
  token: string;
  applicationId: string;
  /** Interactions (the slash command, buttons, the repository menu) are verified with it; none without it. */
  publicKey?: string;
  apiUrl: string;
  /** The role a member needs, unless a guild sets its own in Settings; unset: every member. */
  allowedRole?: string;
  publicUrl: string;
}

/** Discord as a place sessions start from: the bot's token and its application. Null without them. */
export function discordSettings(config: Config): DiscordSettings | null {
  if (!config.DISCORD_BOT_TOKEN || !config.DISCORD_APPLICATION_ID) return null;
  return {
    token: config.DISCORD_BOT_TOKEN,
    applicationId: config.DISCORD_APPLICATION_ID,
    ...(config.DISCORD_PUBLIC_KEY ? { publicKey: config.DISCORD_PUBLIC_KEY.toLowerCase() } : {}),
    apiUrl: config.DISCORD_API_URL.replace(/\/+$/, ""),
    ...(config.DISCORD_ALLOWED_ROLE ? { allowedRole: config.DISCORD_ALLOWED_ROLE } : {}),
    publicUrl: config.PUBLIC_URL.replace(/\/$/, ""),
  };
}

/** A binding's thread key: the guild and the session's thread ("<guild>/<thread>"). */
export const threadKey = (guildId: string, threadId: string) => `${guildId}/${threadId}`;

export function parseThreadKey(key: string): { guildId: string; threadId: string } | null {
  const match = /^(\d+)\/(\d+)$/.exec(key);
  return match ? { guildId: match[1]!, threadId: match[2]! } : null;
}

/** The slash command's name, and the `custom_id`s of the components Tandem puts on its messages. */
export const COMMAND = "tandem";
export const CUSTOM_ID = {
  stop: "tandem:stop:",
  pickRepo: "tandem:repo:",
} as const;

/**
 * What the bot needs in a channel: View Channel, Send Messages, Send Messages in Threads, Create
 * Public Threads, Embed Links, Read Message History, Add Reactions.
 */
const BOT_PERMISSIONS = (
  (1n << 10n) |
  (1n << 11n) |
  (1n << 38n) |
  (1n << 35n) |
  (1n << 14n) |
  (1n << 16n) |
  (1n << 6n)
).toString();

/** The link that adds the bot (and its slash command) to a server. */
export const installUrl = (applicationId: string) =>
  `https://discord.com/oauth2/authorize?${new URLSearchParams({
    client_id: applicationId,
    scope: "bot applications.commands",
    permissions: BOT_PERMISSIONS,
  })}`;

/**
 * The status message is edited at most this often: Discord allows about five edits per five
 * seconds per channel, and other messages share that budget.
 */
export const STATUS_EDIT_INTERVAL_MS = 1_500;

/** Discord's limit on a message's content. */
export const MESSAGE_LIMIT = 2_000;
