import type { FastifyInstance } from "fastify";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { acceptInbound, type Clock, type Db, type Logger, type Queues } from "@tandem/core";
import { PROVIDER, type LinearSettings } from "./config.ts";

export interface LinearRouteOptions {
  settings: LinearSettings;
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
}

/** The webhook types Tandem acts on; the rest is acknowledged and dropped before the inbox. */
const TYPES = new Set(["AgentSessionEvent", "Comment", "Issue"]);
const MAX_BODY_BYTES = 5 * 1024 * 1024;

/**
 * Linear's webhook: `Linear-Signature` (HMAC-SHA256 of the raw body) and the signed
 * `webhookTimestamp` (within a minute) checked by the SDK's verifier before anything is read,
 * deduplicated on `Linear-Delivery`, committed to the inbox, then 200. Linear wants the answer
 * within 5 s: the work happens in the worker.
 */
export async function linearRoutes(app: FastifyInstance, opts: LinearRouteOptions) {
  const verifier = new LinearWebhookClient(opts.settings.webhookSecret);
  const log = opts.logger.child({ provider: PROVIDER });
  await app.register(async (hooks) => {
    // The signature covers the exact bytes Linear sent: keep the body as a buffer.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: MAX_BODY_BYTES },
      (_req, body, done) => done(null, body),
    );
    hooks.post("/hooks/linear", async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const signature = req.headers["linear-signature"];
      let why: string | null = null;
      if (typeof signature !== "string" || !signature) why = "Linear-Signature is missing";
      else {
        try {
          verifier.verify(raw, signature);
        } catch (err) {
          why = /timestamp/i.test((err as Error).message)
            ? "webhookTimestamp is missing or more than a minute away"
            : "Linear-Signature does not match the body";
        }
      }
      if (why) {
        log.warn({ url: req.url, why }, "linear.bad_signature");
        return reply.code(401).send({ error: { code: "bad_signature", message: why } });
      }
      const deliveryId = req.headers["linear-delivery"];
      if (typeof deliveryId !== "string" || !deliveryId) {
        return reply
          .code(400)
          .send({ error: { code: "bad_request", message: "Linear-Delivery is required" } });
      }
      const payload = JSON.parse(raw.toString("utf8")) as { type?: unknown };
      const type = typeof payload.type === "string" ? payload.type : "";
      if (!TYPES.has(type)) return reply.send({ ignored: type || "(no type)" });
      try {
        const { duplicate } = await acceptInbound(
          { db: opts.db, queues: opts.queues, logger: log, clock: opts.clock },
          { provider: PROVIDER, deliveryId, payload },
        );
        return reply.send({ duplicate });
      } catch (err) {
        // Not committed: a 5xx makes Linear deliver it again.
        log.error({ err }, "linear.inbox_failed");
        return reply.code(503).send({ error: { code: "unavailable", message: "try again" } });
      }
    });
  });
}
