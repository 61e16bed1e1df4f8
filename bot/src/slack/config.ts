import type { Config } from "@tandem/core";

export const PROVIDER = "slack";

/** What the bot asks for on install; manifest.json lists the same (a test keeps them equal). */
export const BOT_SCOPES = [
  "app_mentions:read",
  "channels:history",
  "groups:history",
  "im:history",
  "mpim:history",
  "chat:write",
  "reactions:write",
  "users:read",
  "commands",
];
export const BOT_EVENTS = [
  "app_mention",
  "message.channels",
  "message.groups",
  "message.im",
  "message.mpim",
];
export const SLASH_COMMAND = "/tandem";

/** Block Kit action ids of the buttons and menus Tandem posts. */
export const ACTIONS = {
  pickRepo: "tandem_pick_repo",
  stop: "tandem_stop",
  view: "tandem_view",
} as const;

/** A repository picker left unanswered this long no longer starts anything. */
export const PICKER_TTL_MS = 60 * 60_000;
/** The status message is edited at most this often per session. */
export const STATUS_EDIT_INTERVAL_MS = 1_000;

export interface SlackSettings {
  apiUrl: string;
  publicUrl: string;
  signingSecret?: string;
  /** Single-workspace mode: this workspace belongs to the default organization. */
  botToken?: string;
  /** Socket Mode instead of HTTP events. */
  appToken?: string;
  /** Multi-workspace OAuth install. */
  clientId?: string;
  clientSecret?: string;
  encryptionKey?: string;
  /** Other bots' messages count as people's (Tandem's own never do). */
  allowBots: boolean;
}

/** Slack's settings, or null when Slack is not configured (neither a bot token nor an OAuth app). */
export function slackSettings(config: Config): SlackSettings | null {
  if (!config.SLACK_BOT_TOKEN && !(config.SLACK_CLIENT_ID && config.SLACK_CLIENT_SECRET))
    return null;
  return {
    apiUrl: config.SLACK_API_URL.endsWith("/") ? config.SLACK_API_URL : `${config.SLACK_API_URL}/`,
    publicUrl: config.PUBLIC_URL.replace(/\/$/, ""),
    signingSecret: config.SLACK_SIGNING_SECRET,
    botToken: config.SLACK_BOT_TOKEN,
    appToken: config.SLACK_APP_TOKEN,
    clientId: config.SLACK_CLIENT_ID,
    clientSecret: config.SLACK_CLIENT_SECRET,
    encryptionKey: config.ENCRYPTION_KEY,
    allowBots: config.SLACK_ALLOW_BOTS,
  };
}

/** `<team>:<channel>:<thread_ts>`: one Slack thread, the key of its session binding. */
export const threadKey = (teamId: string, channel: string, threadTs: string) =>
  `${teamId}:${channel}:${threadTs}`;

export function parseThreadKey(key: string): { teamId: string; channel: string; threadTs: string } {
  const [teamId, channel, threadTs] = key.split(":");
  if (!teamId || !channel || !threadTs) throw new Error(`not a Slack thread key: ${key}`);
  return { teamId, channel, threadTs };
}

export const channelKey = (teamId: string, channel: string) => `${teamId}:${channel}`;
