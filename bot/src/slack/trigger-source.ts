import { createHash } from "node:crypto";
import { isValidSlackRequest } from "@slack/bolt";
import { z } from "zod";
import { ACTIONS } from "./config.ts";

/** Verifies Slack's signature on the raw body; a timestamp more than 5 minutes off is refused. */
export function verifySlackSignature(
  signingSecret: string,
  rawBody: string,
  headers: Record<string, string | string[] | undefined>,
  nowMs: number,
): boolean {
  const signature = headers["x-slack-signature"];
  const timestamp = Number(headers["x-slack-request-timestamp"]);
  if (typeof signature !== "string" || !Number.isFinite(timestamp)) return false;
  return isValidSlackRequest({
    signingSecret,
    body: rawBody,
    nowMilliseconds: nowMs,
    headers: { "x-slack-signature": signature, "x-slack-request-timestamp": timestamp },
  });
}

/** Events arrive as JSON; interactions as a form with a JSON `payload`; slash commands as a plain form. */
export function parseSlackBody(
  rawBody: string,
  contentType: string | undefined,
): Record<string, unknown> {
  if (contentType?.includes("application/json"))
    return JSON.parse(rawBody) as Record<string, unknown>;
  const form = Object.fromEntries(new URLSearchParams(rawBody));
  if (typeof form.payload === "string") return JSON.parse(form.payload) as Record<string, unknown>;
  return form;
}

/**
 * The inbox key of a delivery: Slack's `event_id` for events (retries repeat it); interactions and
 * commands have none, so their `trigger_id` (unique per click or command) stands in.
 */
export function deliveryIdFor(body: Record<string, unknown>): string {
  if (typeof body.event_id === "string") return body.event_id;
  const kind = typeof body.command === "string" ? "command" : String(body.type ?? "unknown");
  if (typeof body.trigger_id === "string") return `${kind}-${body.trigger_id}`;
  return `${kind}-${createHash("sha256").update(JSON.stringify(body)).digest("hex")}`;
}

const messageEvent = z.object({
  type: z.enum(["app_mention", "message"]),
  channel: z.string(),
  channel_type: z.string().optional(),
  user: z.string().optional(),
  bot_id: z.string().optional(),
  subtype: z.string().optional(),
  hidden: z.boolean().optional(),
  text: z.string().default(""),
  ts: z.string(),
  thread_ts: z.string().optional(),
});
const eventEnvelope = z.object({
  type: z.literal("event_callback"),
  team_id: z.string(),
  event: messageEvent,
});
const blockActions = z.object({
  type: z.literal("block_actions"),
  team: z.object({ id: z.string() }),
  user: z.object({ id: z.string() }),
  channel: z.object({ id: z.string() }).optional(),
  container: z
    .object({
      message_ts: z.string().optional(),
      channel_id: z.string().optional(),
      thread_ts: z.string().optional(),
    })
    .default({}),
  message: z.object({ ts: z.string(), thread_ts: z.string().optional() }).optional(),
  actions: z
    .array(
      z.object({
        action_id: z.string(),
        block_id: z.string().default(""),
        value: z.string().optional(),
        selected_option: z.object({ value: z.string() }).optional(),
      }),
    )
    .min(1),
});
const slashCommand = z.object({
  command: z.string(),
  text: z.string().default(""),
  team_id: z.string(),
  channel_id: z.string(),
  user_id: z.string(),
});

/** Subtypes that are still a person writing; every other subtype is an edit, a join, a bot… */
const PERSON_SUBTYPES = new Set(["file_share", "thread_broadcast"]);

/** A delivery as the router sees it. */
export type SlackTrigger =
  | {
      type: "message";
      teamId: string;
      channel: string;
      user: string;
      text: string;
      ts: string;
      threadTs?: string;
      isDm: boolean;
      mention: boolean;
    }
  | {
      type: "action";
      teamId: string;
      user: string;
      channel: string;
      messageTs?: string;
      threadTs?: string;
      actionId: string;
      blockId: string;
      value: string;
    }
  | {
      type: "command";
      teamId: string;
      channel: string;
      user: string;
      command: string;
      text: string;
    }
  | { type: "ignore"; reason: string };

const ignore = (reason: string): SlackTrigger => ({ type: "ignore", reason });

/** Parses a Slack body into what it asks of Tandem; anything else is "ignore", with the reason. */
export function toTrigger(body: unknown, opts: { allowBots?: boolean } = {}): SlackTrigger {
  const envelope = eventEnvelope.safeParse(body);
  if (envelope.success) {
    const { team_id: teamId, event } = envelope.data;
    const fromBot = Boolean(event.bot_id) || event.subtype === "bot_message";
    if (fromBot && !opts.allowBots) return ignore("a bot's message");
    if (
      event.subtype &&
      !PERSON_SUBTYPES.has(event.subtype) &&
      !(fromBot && event.subtype === "bot_message")
    ) {
      return ignore(`message subtype ${event.subtype}`);
    }
    // A bot may post without a user id; its bot id stands in (the router drops Tandem's own).
    const user = event.user ?? (fromBot ? event.bot_id : undefined);
    if (event.hidden || !user) return ignore("not a person's message");
    const isDm = event.channel_type === "im" || event.channel.startsWith("D");
    const mention = event.type === "app_mention";
    // In a DM every message counts (message.im); elsewhere a mention counts, and thread replies may.
    if (mention && isDm) return ignore("a mention in a DM, handled as its message event");
    if (!mention && !isDm && !event.thread_ts) return ignore("a channel message outside a thread");
    return {
      type: "message",
      teamId,
      channel: event.channel,
      user,
      text: event.text,
      ts: event.ts,
      threadTs: event.thread_ts,
      isDm,
      mention,
    };
  }
  const actions = blockActions.safeParse(body);
  if (actions.success) {
    const b = actions.data;
    const action = b.actions[0]!;
    if (action.action_id !== ACTIONS.pickRepo && action.action_id !== ACTIONS.stop)
      return ignore(`action ${action.action_id}`);
    const channel = b.channel?.id ?? b.container.channel_id;
    if (!channel) return ignore("an action outside a channel");
    return {
      type: "action",
      teamId: b.team.id,
      user: b.user.id,
      channel,
      messageTs: b.container.message_ts ?? b.message?.ts,
      threadTs: b.container.thread_ts ?? b.message?.thread_ts,
      actionId: action.action_id,
      blockId: action.block_id,
      value: action.selected_option?.value ?? action.value ?? "",
    };
  }
  const command = slashCommand.safeParse(body);
  if (command.success) {
    const c = command.data;
    return {
      type: "command",
      teamId: c.team_id,
      channel: c.channel_id,
      user: c.user_id,
      command: c.command,
      text: c.text.trim(),
    };
  }
  return ignore("not an event Tandem acts on");
}
