import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import type {
  APIChatInputApplicationCommandGuildInteraction,
  APIInteractionGuildMember,
  APIMessage,
  APIMessageComponentGuildInteraction,
  APIPingInteraction,
  GuildMemberFlags,
  Locale,
  MessageFlags,
  UserFlags,
} from "discord.js";

// Obviously fake credentials and ids (snowflake-shaped: 18 digits, as @discordjs/rest's bucket
// routes expect), a signing key made here, and interactions shaped as Discord sends them.

export const DISCORD_BOT_TOKEN = "test-discord-bot-token";
export const DISCORD_APPLICATION_ID = "100000000000000010";
export const BOT_USER_ID = "100000000000000011";
export const HUMAN_USER_ID = "100000000000000020";
export const OTHER_USER_ID = "100000000000000021";
/** The id of the registered /tandem command the slash command payloads name. */
export const TANDEM_COMMAND_ID = "100000000000000030";

const keys = generateKeyPairSync("ed25519");
/** The app's public key as the developer portal shows it: the raw 32 bytes in hex. */
export const DISCORD_PUBLIC_KEY = Buffer.from(
  keys.publicKey.export({ format: "jwk" }).x!,
  "base64url",
).toString("hex");

/** Discord's interaction signature: Ed25519 over timestamp + raw body, both headers in hex/seconds. */
export function signInteraction(
  rawBody: string,
  timestamp = String(Math.floor(Date.now() / 1000)),
): { "x-signature-ed25519": string; "x-signature-timestamp": string } {
  const signature = sign(null, Buffer.from(timestamp + rawBody), keys.privateKey).toString("hex");
  return { "x-signature-ed25519": signature, "x-signature-timestamp": timestamp };
}

/** POSTs an interaction to Tandem's endpoint, signed unless told otherwise. */
export async function postInteraction(
  base: string,
  payload: object,
  opts: { badSignature?: boolean; unsigned?: boolean } = {},
): Promise<{ status: number; body: any }> {
  const raw = JSON.stringify(payload);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (!opts.unsigned) {
    // A bad signature is a real one over another body: well-formed, and wrong.
    Object.assign(headers, signInteraction(opts.badSignature ? `${raw} ` : raw));
  }
  const res = await fetch(`${base}/hooks/discord/interactions`, {
    method: "POST",
    body: raw,
    headers,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the text as is
  }
  return { status: res.status, body };
}

const DISCORD_EPOCH_MS = 1_420_070_400_000n;
let increment = 0n;

/** A fresh snowflake: increasing, 18–19 digits. */
export function snowflake(): string {
  increment = (increment + 1n) & 0xfffn;
  return String(((BigInt(Date.now()) - DISCORD_EPOCH_MS) << 22n) | (1n << 17n) | increment);
}

/** Discord's timestamp format: ISO 8601 with microseconds and an explicit offset. */
export const discordTime = (ms = Date.now()) =>
  new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00");

/** A token shaped like Discord's interaction tokens (base64 of "interaction:<id>:<random>"). */
export const interactionToken = (id: string) =>
  Buffer.from(`interaction:${id}:${randomBytes(48).toString("base64url")}`).toString("base64url");

const EN_US = "en-US" as Locale;
/** All permissions but administrator: what app_permissions shows for a well-invited bot. */
const APP_PERMISSIONS = "2251799813685239";
const MEMBER_PERMISSIONS = "2248473465835073";

interface Where {
  guildId: string;
  channelId: string;
  user?: { id: string; username: string };
  roles?: string[];
  id?: string;
  token?: string;
}

function member(w: Where): APIInteractionGuildMember {
  const user = w.user ?? { id: HUMAN_USER_ID, username: "alice" };
  return {
    avatar: null,
    banner: null,
    communication_disabled_until: null,
    deaf: false,
    flags: 0 as GuildMemberFlags,
    joined_at: "2024-01-01T00:00:00.000000+00:00",
    mute: false,
    nick: null,
    pending: false,
    permissions: MEMBER_PERMISSIONS,
    premium_since: null,
    roles: w.roles ?? [],
    user: {
      id: user.id,
      username: user.username,
      global_name: user.username,
      discriminator: "0",
      avatar: null,
      public_flags: 0 as UserFlags,
    },
  };
}

/** The fields every guild interaction has. */
function base(w: Where) {
  const id = w.id ?? snowflake();
  return {
    app_permissions: APP_PERMISSIONS,
    application_id: DISCORD_APPLICATION_ID,
    attachment_size_limit: 10_485_760,
    authorizing_integration_owners: { "0": w.guildId },
    channel: {
      id: w.channelId,
      type: 0,
      guild_id: w.guildId,
      name: "general",
      flags: 0,
      nsfw: false,
      parent_id: null,
      permissions: MEMBER_PERMISSIONS,
      position: 0,
      rate_limit_per_user: 0,
      topic: null,
      last_message_id: null,
    },
    channel_id: w.channelId,
    context: 0,
    entitlement_sku_ids: [],
    entitlements: [],
    guild: { id: w.guildId, locale: EN_US, features: [] },
    guild_id: w.guildId,
    guild_locale: EN_US,
    id,
    locale: EN_US,
    member: member(w),
    token: w.token ?? interactionToken(id),
    version: 1 as const,
  };
}

/** Type 1: Discord checking the endpoint (it must answer `{type: 1}`). */
export function ping(): APIPingInteraction {
  const id = snowflake();
  return {
    application_id: DISCORD_APPLICATION_ID,
    authorizing_integration_owners: {},
    entitlements: [],
    id,
    token: interactionToken(id),
    type: 1,
    version: 1,
    app_permissions: "0",
    attachment_size_limit: 10_485_760,
  } satisfies APIPingInteraction;
}

/** Type 2: `/tandem prompt:<text> [repo:<owner/name>] [profile:<name>]` in a guild channel. */
export function slashCommand(
  w: Where & { prompt?: string; repo?: string; profile?: string },
): APIChatInputApplicationCommandGuildInteraction {
  const options = (["prompt", "repo", "profile"] as const).flatMap((name) =>
    w[name] === undefined ? [] : [{ name, type: 3 as const, value: w[name]! }],
  );
  return {
    ...base(w),
    type: 2,
    data: {
      id: TANDEM_COMMAND_ID,
      name: "tandem",
      type: 1,
      options,
    },
  } satisfies APIChatInputApplicationCommandGuildInteraction;
}

/** The message a component sits on, as the interaction carries it (the fake's, if given). */
function componentMessage(w: Where & { messageId: string; message?: Partial<APIMessage> }) {
  return {
    id: w.messageId,
    type: 0,
    channel_id: w.channelId,
    author: {
      id: BOT_USER_ID,
      username: "Tandem",
      global_name: null,
      discriminator: "0",
      avatar: null,
      bot: true,
      public_flags: 0 as UserFlags,
    },
    content: "",
    attachments: [],
    embeds: [],
    components: [],
    mentions: [],
    mention_roles: [],
    mention_everyone: false,
    pinned: false,
    tts: false,
    flags: 0 as MessageFlags,
    timestamp: discordTime(),
    edited_timestamp: null,
    ...w.message,
  } satisfies APIMessage;
}

/** Type 3, a button: `custom_id` as the app set it on the message `messageId`. */
export function buttonPress(
  w: Where & { messageId: string; customId: string; message?: Partial<APIMessage> },
): APIMessageComponentGuildInteraction {
  return {
    ...base(w),
    type: 3,
    message: componentMessage(w),
    data: { custom_id: w.customId, component_type: 2 },
  } satisfies APIMessageComponentGuildInteraction;
}

/** Type 3, a string select: the chosen `values`. */
export function selectMenu(
  w: Where & {
    messageId: string;
    customId: string;
    values: string[];
    message?: Partial<APIMessage>;
  },
): APIMessageComponentGuildInteraction {
  return {
    ...base(w),
    type: 3,
    message: componentMessage(w),
    data: { custom_id: w.customId, component_type: 3, values: w.values },
  } satisfies APIMessageComponentGuildInteraction;
}
