import { createHmac } from "node:crypto";

export const SIGNING_SECRET = "test-signing-secret";

/** Slack's request signature: v0=HMAC-SHA256(secret, "v0:<timestamp>:<body>"). */
export function slackHeaders(
  body: string,
  opts: { secret?: string; timestampS?: number; contentType?: string } = {},
) {
  const timestamp = opts.timestampS ?? Math.floor(Date.now() / 1000);
  const signature = `v0=${createHmac("sha256", opts.secret ?? SIGNING_SECRET)
    .update(`v0:${timestamp}:${body}`)
    .digest("hex")}`;
  return {
    "content-type": opts.contentType ?? "application/json",
    "x-slack-request-timestamp": String(timestamp),
    "x-slack-signature": signature,
  };
}

let eventCounter = 0;
export const newEventId = () =>
  `Ev${Date.now().toString(36)}${(++eventCounter).toString(36)}`.toUpperCase();
let tsCounter = 0;
/** A fresh Slack message timestamp. */
export const newTs = () =>
  `${Math.floor(Date.now() / 1000)}.${String(++tsCounter).padStart(6, "0")}`;

function eventBody(event: Record<string, unknown>, opts: { teamId: string; eventId?: string }) {
  return {
    token: "verification-token-unused",
    team_id: opts.teamId,
    api_app_id: "A0APP",
    event: { event_ts: event.ts, ...event },
    type: "event_callback",
    event_id: opts.eventId ?? newEventId(),
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: opts.teamId, user_id: "UTANDEMBOT", is_bot: true }],
  };
}

export function mention(opts: {
  teamId: string;
  channel: string;
  user?: string;
  text: string;
  ts?: string;
  threadTs?: string;
  eventId?: string;
}) {
  const ts = opts.ts ?? newTs();
  return eventBody(
    {
      type: "app_mention",
      user: opts.user ?? "U0ALICE",
      text: opts.text,
      ts,
      channel: opts.channel,
      ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
    },
    opts,
  );
}

export function message(opts: {
  teamId: string;
  channel: string;
  user?: string;
  text: string;
  ts?: string;
  threadTs?: string;
  channelType?: string;
  botId?: string;
  eventId?: string;
}) {
  const ts = opts.ts ?? newTs();
  return eventBody(
    {
      type: "message",
      user: opts.user ?? "U0ALICE",
      text: opts.text,
      ts,
      channel: opts.channel,
      channel_type: opts.channelType ?? "channel",
      ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
      ...(opts.botId ? { bot_id: opts.botId, subtype: "bot_message" } : {}),
    },
    opts,
  );
}

/** A block_actions payload as Slack posts it: a form with one `payload` field. */
export function blockActions(opts: {
  teamId: string;
  channel: string;
  user?: string;
  messageTs: string;
  threadTs?: string;
  action: { action_id: string; block_id?: string; value?: string; selected?: string };
}) {
  const { action } = opts;
  const payload = {
    type: "block_actions",
    team: { id: opts.teamId, domain: "fake" },
    user: { id: opts.user ?? "U0ALICE", username: "alice", team_id: opts.teamId },
    api_app_id: "A0APP",
    token: "unused",
    container: {
      type: "message",
      message_ts: opts.messageTs,
      channel_id: opts.channel,
      is_ephemeral: false,
      thread_ts: opts.threadTs,
    },
    trigger_id: `${Date.now()}.${++eventCounter}.abcdef`,
    channel: { id: opts.channel, name: "general" },
    message: { type: "message", ts: opts.messageTs, thread_ts: opts.threadTs, text: "" },
    response_url: "http://127.0.0.1:1/unused",
    actions: [
      {
        action_id: action.action_id,
        block_id: action.block_id ?? "b",
        action_ts: String(Date.now() / 1000),
        ...(action.selected
          ? {
              type: "static_select",
              selected_option: {
                text: { type: "plain_text", text: action.selected },
                value: action.selected,
              },
            }
          : { type: "button", value: action.value ?? "", text: { type: "plain_text", text: "x" } }),
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export function slashCommand(opts: {
  teamId: string;
  channel: string;
  user?: string;
  text: string;
}) {
  return new URLSearchParams({
    token: "unused",
    team_id: opts.teamId,
    team_domain: "fake",
    channel_id: opts.channel,
    channel_name: "general",
    user_id: opts.user ?? "U0ALICE",
    user_name: "alice",
    command: "/tandem",
    text: opts.text,
    api_app_id: "A0APP",
    response_url: "http://127.0.0.1:1/unused",
    trigger_id: `${Date.now()}.${++eventCounter}.cmd`,
  }).toString();
}

/** POSTs to a Slack route of a running Tandem, signed; returns status, body and how long the ack took. */
export async function postSlack(
  base: string,
  path: "events" | "interactions" | "commands",
  body: unknown,
  opts: { secret?: string; timestampS?: number; headers?: Record<string, string> } = {},
) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const contentType =
    typeof body === "string" ? "application/x-www-form-urlencoded" : "application/json";
  const started = performance.now();
  const res = await fetch(`${base}/hooks/slack/${path}`, {
    method: "POST",
    body: raw,
    headers: { ...slackHeaders(raw, { ...opts, contentType }), ...opts.headers },
  });
  const text = await res.text();
  return { status: res.status, text, ackMs: performance.now() - started };
}
