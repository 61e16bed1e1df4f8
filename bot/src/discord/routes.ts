import { createPublicKey, verify, type KeyObject } from "node:crypto";
import type { FastifyInstance } from "fastify";
import {
  acceptInbound,
  withTimeout,
  type Clock,
  type Db,
  type Logger,
  type Queues,
} from "@tandem/core";
import { COMMAND, CUSTOM_ID, PROVIDER } from "./config.ts";
import { EPHEMERAL } from "./messages.ts";
import type { DiscordInbound } from "./trigger-source.ts";

export interface DiscordRouteOptions {
  publicKey: string;
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** Discord waits 3 s for the first response; a slow database gets a 503 before that. */
const COMMIT_BUDGET_MS = 2_500;
/** The DER prefix of an Ed25519 public key (SPKI), before its 32 raw bytes. */
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** Interaction types and the responses Tandem gives (Discord's numbers). */
const PING = 1;
const APPLICATION_COMMAND = 2;
const MESSAGE_COMPONENT = 3;
const PONG = { type: 1 };
const DEFERRED_CHANNEL_MESSAGE = 5;
const DEFERRED_UPDATE_MESSAGE = 6;

function ed25519Key(hex: string): KeyObject {
  return createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(hex, "hex")]),
    format: "der",
    type: "spki",
  });
}

/** Discord signs the timestamp followed by the raw body with the application's key. */
function signed(key: KeyObject, raw: Buffer, signature: unknown, timestamp: unknown): boolean {
  if (typeof signature !== "string" || typeof timestamp !== "string") return false;
  if (!/^[0-9a-f]{128}$/i.test(signature)) return false;
  return verify(
    null,
    Buffer.concat([Buffer.from(timestamp, "utf8"), raw]),
    key,
    Buffer.from(signature, "hex"),
  );
}

/** Whether a slash command asks for nothing but settings (no prompt): answered only to its user. */
function settingsOnly(data: Record<string, unknown>): boolean {
  const names: string[] = [];
  const walk = (options: unknown) => {
    for (const o of Array.isArray(options) ? (options as Array<Record<string, unknown>>) : []) {
      if (Array.isArray(o.options)) walk(o.options);
      else names.push(String(o.name));
    }
  };
  walk(data.options);
  return !names.includes("prompt");
}

/**
 * The interactions endpoint: the Ed25519 signature checked on the raw body before it is parsed
 * (Discord probes with bad ones and expects 401), PING answered, and the slash command and
 * Tandem's buttons and menu committed to the inbox, deduplicated on the interaction id, then
 * answered with a deferred response; the worker edits or follows it up.
 */
export async function discordRoutes(app: FastifyInstance, opts: DiscordRouteOptions) {
  const log = opts.logger.child({ provider: PROVIDER });
  const key = ed25519Key(opts.publicKey);
  await app.register(async (hooks) => {
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: MAX_BODY_BYTES },
      (_req, body, done) => done(null, body),
    );
    hooks.post("/hooks/discord/interactions", async (req, reply) => {
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const headers = req.headers;
      if (!signed(key, raw, headers["x-signature-ed25519"], headers["x-signature-timestamp"])) {
        log.warn({ url: req.url }, "discord.bad_signature");
        return reply
          .code(401)
          .send({ error: { code: "bad_signature", message: "invalid request signature" } });
      }
      let interaction: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(raw.toString("utf8"));
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error();
        interaction = parsed as Record<string, unknown>;
      } catch {
        return reply
          .code(400)
          .send({ error: { code: "bad_request", message: "the body is not a JSON object" } });
      }
      const type = interaction.type;
      if (type === PING) return reply.send(PONG);
      const data = (interaction.data ?? {}) as Record<string, unknown>;
      let response: { type: number; data?: { flags: number } };
      if (type === APPLICATION_COMMAND && data.name === COMMAND) {
        response = {
          type: DEFERRED_CHANNEL_MESSAGE,
          ...(settingsOnly(data) ? { data: { flags: EPHEMERAL } } : {}),
        };
      } else if (
        type === MESSAGE_COMPONENT &&
        typeof data.custom_id === "string" &&
        (data.custom_id.startsWith(CUSTOM_ID.stop) || data.custom_id.startsWith(CUSTOM_ID.pickRepo))
      ) {
        response = { type: DEFERRED_UPDATE_MESSAGE };
      } else {
        return reply.code(400).send({
          error: { code: "bad_request", message: `Tandem does not handle this interaction` },
        });
      }
      if (typeof interaction.id !== "string" || typeof interaction.token !== "string")
        return reply
          .code(400)
          .send({ error: { code: "bad_request", message: "the interaction has no id or token" } });
      try {
        await withTimeout(
          acceptInbound(
            { db: opts.db, queues: opts.queues, logger: log, clock: opts.clock },
            {
              provider: PROVIDER,
              deliveryId: `interaction-${interaction.id}`,
              payload: { source: "interaction", interaction } satisfies DiscordInbound,
            },
          ),
          COMMIT_BUDGET_MS,
          "the inbox did not commit in time",
        );
      } catch (err) {
        // Not committed: Discord tells the person the interaction failed; they can run it again.
        log.error({ err }, "discord.inbox_failed");
        return reply.code(503).send({ error: { code: "unavailable", message: "try again" } });
      }
      return reply.send(response);
    });
  });
}
