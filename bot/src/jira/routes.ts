import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { acceptInbound, type Clock, type Db, type Logger, type Queues } from "@tandem/core";
import { PROVIDER, type JiraSettings } from "./config.ts";

export interface JiraRouteOptions {
  settings: JiraSettings;
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
}

const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** The changelog fields that can hand an issue to the agent; other edits never reach the inbox. */
const HANDING_FIELDS = new Set(["assignee", "labels"]);

/** Whether the body can ask anything of the agent (the rest is acknowledged and dropped). */
function relevant(payload: {
  webhookEvent?: unknown;
  changelog?: { items?: Array<{ field?: unknown; fieldId?: unknown }> } | null;
}): boolean {
  if (payload.webhookEvent === "comment_created" || payload.webhookEvent === "jira:issue_created")
    return true;
  if (payload.webhookEvent !== "jira:issue_updated") return false;
  return (payload.changelog?.items ?? []).some((i) =>
    HANDING_FIELDS.has(String(i.fieldId ?? i.field)),
  );
}

/** `sha256=<hex>` of the raw body with the webhook's secret, compared in constant time. */
function signed(secret: string, raw: Buffer, header: unknown): boolean {
  if (typeof header !== "string" || !header.startsWith("sha256=")) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(raw).digest("hex"));
  const given = Buffer.from(header.slice("sha256=".length).trim().toLowerCase());
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * The site's admin webhook: `X-Hub-Signature` (HMAC-SHA256 of the raw body) checked before the
 * body is parsed, deduplicated on `X-Atlassian-Webhook-Identifier` (the same on every retry),
 * committed to the inbox, then 200. The work happens in the worker.
 */
export async function jiraRoutes(app: FastifyInstance, opts: JiraRouteOptions) {
  const log = opts.logger.child({ provider: PROVIDER });
  await app.register(async (hooks) => {
    // The signature covers the exact bytes Jira sent: keep the body as a buffer.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: MAX_BODY_BYTES },
      (_req, body, done) => done(null, body),
    );
    hooks.post("/hooks/jira", async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const signature = req.headers["x-hub-signature"];
      if (!signed(opts.settings.webhookSecret, raw, signature)) {
        const why = signature
          ? "X-Hub-Signature does not match the body"
          : "X-Hub-Signature is missing: set the webhook's secret to JIRA_WEBHOOK_SECRET";
        log.warn({ url: req.url, why }, "jira.bad_signature");
        return reply.code(401).send({ error: { code: "bad_signature", message: why } });
      }
      const deliveryId = req.headers["x-atlassian-webhook-identifier"];
      if (typeof deliveryId !== "string" || !deliveryId)
        return reply.code(400).send({
          error: { code: "bad_request", message: "X-Atlassian-Webhook-Identifier is required" },
        });
      let payload: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(raw.toString("utf8"));
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
        payload = parsed as Record<string, unknown>;
      } catch {
        return reply
          .code(400)
          .send({ error: { code: "bad_request", message: "the body is not a JSON object" } });
      }
      if (!relevant(payload))
        return reply.send({ ignored: String(payload.webhookEvent ?? "(no webhookEvent)") });
      try {
        const { duplicate } = await acceptInbound(
          { db: opts.db, queues: opts.queues, logger: log, clock: opts.clock },
          { provider: PROVIDER, deliveryId, payload },
        );
        return reply.send({ duplicate });
      } catch (err) {
        // Not committed: a 5xx makes Jira deliver it again.
        log.error({ err }, "jira.inbox_failed");
        return reply.code(503).send({ error: { code: "unavailable", message: "try again" } });
      }
    });
  });
}
