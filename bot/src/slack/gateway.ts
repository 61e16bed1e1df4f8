import { slackSessionToken } from "./credentials.ts";
import {
  type Config,
  type Db,
  carriesLink,
  isJson,
  isRecord,
  parseJson,
  upstreamUrl,
  type IntegrationProvider,
} from "@tandem/core";

/** The methods that post what people read. */
const MESSAGE_METHODS = new Set(["chat.postMessage", "chat.update"]);

const isForm = (contentType: string) => /^application\/x-www-form-urlencoded\b/i.test(contentType);

/**
 * Slack's Web API (slack.com/api/<method>) with the bot token of the session's workspace. A
 * token the sandbox put in the query or a form body is removed: only the header counts. Null
 * when Slack has no token.
 */
export function slackIntegration(deps: { config: Config; db: Db }): IntegrationProvider | null {
  const token = slackSessionToken(deps);
  if (!token) return null;
  const base = deps.config.SLACK_API_URL;
  return {
    name: "slack",
    title: "Slack",
    hosts: ["slack.com"],
    async credential(grant) {
      const bot = await token(grant);
      return bot ? { authorization: `Bearer ${bot}` } : null;
    },
    route({ url }, link) {
      const method = /^\/api\/([\w.]+)$/.exec(url.pathname)?.[1];
      if (!method)
        return {
          refuse: 404,
          text: "only Slack's Web API (https://slack.com/api/<method>) is served through the sandbox gateway\n",
        };
      const query = new URLSearchParams(url.search);
      query.delete("token");
      const search = query.size ? `?${query}` : "";
      const upstream = upstreamUrl(base, `/${method}`, search);
      const message = MESSAGE_METHODS.has(method);
      return {
        upstream,
        rewrite(body, contentType) {
          if (isForm(contentType)) return rewriteForm(body, message ? link : undefined);
          if (message && isJson(contentType)) return rewriteJson(body, link);
          return undefined;
        },
      };
    },
  };
}

const linkText = (link: string) => `<${link}|View session>`;
const contextBlock = (link: string) => ({
  type: "context",
  elements: [{ type: "mrkdwn", text: linkText(link) }],
});

/** The message with the link: appended to `text`, a context block after `blocks`; as it is when it already has it. */
function linkMessage(message: { text?: unknown; blocks?: unknown }, link: string): boolean {
  if (carriesLink(message.text, link) || carriesLink(message.blocks, link)) return false;
  if (Array.isArray(message.blocks)) message.blocks = [...message.blocks, contextBlock(link)];
  if (typeof message.text === "string" && message.text)
    message.text = `${message.text}\n\n${linkText(link)}`;
  else if (!Array.isArray(message.blocks)) message.text = linkText(link);
  return true;
}

function rewriteJson(raw: Buffer, link: string): Buffer | undefined {
  const payload = parseJson(raw);
  if (!isRecord(payload) || !linkMessage(payload, link)) return undefined;
  return Buffer.from(JSON.stringify(payload));
}

/** A form body without `token`, and (for a message method, `link` set) with the link. */
function rewriteForm(raw: Buffer, link: string | undefined): Buffer {
  const form = new URLSearchParams(raw.toString("utf8"));
  form.delete("token");
  if (link) {
    const blocks = form.has("blocks") ? parseJson(Buffer.from(form.get("blocks")!)) : undefined;
    // Blocks Slack could not read either stay as they are; the upstream answers invalid_blocks.
    if (!form.has("blocks") || Array.isArray(blocks)) {
      const message: { text?: unknown; blocks?: unknown } = {
        text: form.get("text") ?? undefined,
        blocks,
      };
      if (linkMessage(message, link)) {
        if (typeof message.text === "string") form.set("text", message.text);
        if (Array.isArray(message.blocks)) form.set("blocks", JSON.stringify(message.blocks));
      }
    }
  }
  return Buffer.from(form.toString());
}
