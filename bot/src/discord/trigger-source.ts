import { COMMAND, CUSTOM_ID } from "./config.ts";

// What Discord sent, as the router needs it: gateway messages (mentions of the bot, messages in
// session threads) and interactions (the slash command, Stop, the repository menu).

/** Who acted, and what Discord says they may do there. */
export interface Actor {
  id: string;
  name: string;
  /** Their role ids in the guild. */
  roles: string[];
  /** Their permissions in the channel (a bitfield), for interactions; null for messages. */
  permissions: bigint | null;
}

export type DiscordTrigger =
  | {
      type: "message";
      guildId: string;
      channelId: string;
      messageId: string;
      author: Actor;
      /** The words, the bot's mention taken out. */
      text: string;
      mentionsBot: boolean;
    }
  | {
      type: "command";
      guildId: string;
      channelId: string;
      interactionId: string;
      token: string;
      user: Actor;
      prompt: string;
      repo?: string;
      profile?: string;
    }
  | {
      type: "stop" | "pick";
      guildId: string;
      channelId: string;
      messageId: string;
      token: string;
      user: Actor;
      /** The session to stop, or the waiting request the menu answers. */
      target: string;
      /** The option picked in a menu. */
      value?: string;
    }
  | { type: "ignore"; reason: string };

/** An inbox row's payload: one gateway message, or one interaction. */
export type DiscordInbound =
  | { source: "gateway"; botUserId: string; message: Record<string, unknown> }
  | { source: "interaction"; interaction: Record<string, unknown> };

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === "object" ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Whether a gateway message mentions the bot (its user; `<@id>` or the legacy `<@!id>`). */
export function mentionsBot(message: Json, botUserId: string): boolean {
  const mentions = Array.isArray(message.mentions) ? message.mentions : [];
  if (mentions.some((m) => str(obj(m).id) === botUserId)) return true;
  const content = str(message.content);
  return content.includes(`<@${botUserId}>`) || content.includes(`<@!${botUserId}>`);
}

/** The words of a message: the bot's mention out, other mentions as Discord shows them. */
export function cleanText(content: string, botUserId: string): string {
  return content
    .replaceAll(`<@${botUserId}>`, "")
    .replaceAll(`<@!${botUserId}>`, "")
    .replace(/<(https?:[^>\s]+)>/g, "$1")
    .replace(/[ \t]{2,}/g, " ")
    .trim();
}

function actorOf(member: Json, user: Json): Actor {
  const u = Object.keys(user).length ? user : obj(member.user);
  let permissions: bigint | null = null;
  try {
    permissions = member.permissions !== undefined ? BigInt(str(member.permissions)) : null;
  } catch {
    permissions = null;
  }
  return {
    id: str(u.id),
    name: str(member.nick) || str(u.global_name) || str(u.username) || str(u.id),
    roles: Array.isArray(member.roles) ? member.roles.map(String) : [],
    permissions,
  };
}

/** The value of a slash command's option, at the top level or under a subcommand. */
function optionsOf(data: Json): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (options: unknown) => {
    for (const o of Array.isArray(options) ? options : []) {
      const option = obj(o);
      if (Array.isArray(option.options)) walk(option.options);
      else if (option.value !== undefined) found.set(str(option.name), String(option.value));
    }
  };
  walk(data.options);
  return found;
}

export function toTrigger(payload: unknown): DiscordTrigger {
  const inbound = obj(payload) as Partial<DiscordInbound> & Json;
  if (inbound.source === "gateway") {
    const m = obj(inbound.message);
    const botUserId = str(inbound.botUserId);
    const author = obj(m.author);
    if (!str(m.guild_id)) return { type: "ignore", reason: "a direct message" };
    if (author.bot === true || str(author.id) === botUserId)
      return { type: "ignore", reason: "a bot's message" };
    if (m.webhook_id) return { type: "ignore", reason: "a webhook's message" };
    // Only people's messages: replies and plain messages (a thread's first, system ones are not).
    if (m.type !== undefined && m.type !== 0 && m.type !== 19)
      return { type: "ignore", reason: `a message of type ${String(m.type)}` };
    return {
      type: "message",
      guildId: str(m.guild_id),
      channelId: str(m.channel_id),
      messageId: str(m.id),
      author: actorOf(obj(m.member), author),
      text: cleanText(str(m.content), botUserId),
      mentionsBot: mentionsBot(m, botUserId),
    };
  }
  if (inbound.source !== "interaction") return { type: "ignore", reason: "an unknown payload" };
  const i = obj(inbound.interaction);
  const guildId = str(i.guild_id);
  if (!guildId) return { type: "ignore", reason: "an interaction outside a server" };
  const base = {
    guildId,
    channelId: str(i.channel_id) || str(obj(i.channel).id),
    token: str(i.token),
    user: actorOf(obj(i.member), obj(i.user)),
  };
  const data = obj(i.data);
  if (i.type === 2) {
    if (str(data.name) !== COMMAND)
      return { type: "ignore", reason: `the command /${str(data.name)}` };
    const options = optionsOf(data);
    const opt = (name: string) => options.get(name)?.trim() || undefined;
    return {
      type: "command",
      ...base,
      interactionId: str(i.id),
      prompt: opt("prompt") ?? "",
      ...(opt("repo") ? { repo: opt("repo") } : {}),
      ...(opt("profile") ? { profile: opt("profile") } : {}),
    };
  }
  if (i.type === 3) {
    const customId = str(data.custom_id);
    const messageId = str(obj(i.message).id);
    if (customId.startsWith(CUSTOM_ID.stop))
      return { type: "stop", ...base, messageId, target: customId.slice(CUSTOM_ID.stop.length) };
    if (customId.startsWith(CUSTOM_ID.pickRepo)) {
      const values = Array.isArray(data.values) ? data.values.map(String) : [];
      return {
        type: "pick",
        ...base,
        messageId,
        target: customId.slice(CUSTOM_ID.pickRepo.length),
        ...(values[0] ? { value: values[0] } : {}),
      };
    }
    return { type: "ignore", reason: `the component ${customId}` };
  }
  return { type: "ignore", reason: `an interaction of type ${String(i.type)}` };
}

/** "stop" (and a few ways of saying it), alone: the person wants the session stopped. */
export const asksToStop = (text: string) => /^(stop|cancel|abort|halt)[.!]*$/i.test(text.trim());

/** A thread's name, from the request (Discord allows 100 characters). */
export function threadName(text: string): string {
  const first =
    text
      .split("\n")
      .find((l) => l.trim())
      ?.trim() ?? "";
  const name = first
    .replace(/<[@#][!&]?\d+>/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return (name || "Tandem session").slice(0, 90);
}
