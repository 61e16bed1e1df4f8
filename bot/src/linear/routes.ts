import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LinearClient } from "@linear/sdk";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { and, eq } from "drizzle-orm";
import {
  acceptInbound,
  encryptSecret,
  schema,
  type Clock,
  type Db,
  type Logger,
  type Queues,
} from "@tandem/core";
import { requestToken } from "./client.ts";
import { OAUTH_SCOPES, PROVIDER, type LinearSettings } from "./config.ts";

export interface LinearRouteOptions {
  settings: LinearSettings;
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
  /** The org an install is for: the signed-in owner's or admin's; throws otherwise. */
  adminOrg(req: FastifyRequest): Promise<string>;
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
  if (opts.settings.oauth) installRoutes(app, opts, log);
}

const STATE_COOKIE = "tandem_linear_oauth";
const STATE_TTL_MS = 10 * 60_000;
const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (reply: FastifyReply, status: number, title: string, body: string) =>
  reply
    .code(status)
    .type("text/html; charset=utf-8")
    .send(
      `<!doctype html><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(body)}</p>`,
    );

/**
 * The OAuth install, as the agent (`actor=app`): `/linear/install` (an org's owner or admin)
 * sends the browser to Linear with a signed state naming the org and a nonce kept in a cookie;
 * `/linear/oauth/callback` checks both, exchanges the code, and binds the workspace to the org
 * with its token stored encrypted. A workspace another org has installed is not moved.
 */
function installRoutes(app: FastifyInstance, opts: LinearRouteOptions, log: Logger) {
  const oauth = opts.settings.oauth!;
  const redirectUri = `${opts.settings.publicUrl}/linear/oauth/callback`;
  const sign = (payload: string) =>
    createHmac("sha256", oauth.clientSecret)
      .update(`tandem linear state ${payload}`)
      .digest("base64url");
  const secure = opts.settings.publicUrl.startsWith("https:") ? "; Secure" : "";

  app.get("/linear/install", async (req, reply) => {
    let orgId: string;
    try {
      orgId = await opts.adminOrg(req);
    } catch {
      return page(
        reply,
        401,
        "Sign in first",
        "Open your Tandem login link as an owner or admin of the organization, then come back to this page.",
      );
    }
    const nonce = randomBytes(16).toString("base64url");
    const payload = Buffer.from(
      JSON.stringify({ orgId, nonce, exp: opts.clock.now().getTime() + STATE_TTL_MS }),
    ).toString("base64url");
    const url = new URL(oauth.authorizeUrl);
    url.search = new URLSearchParams({
      client_id: oauth.clientId,
      redirect_uri: redirectUri,
      response_type: "code",
      scope: OAUTH_SCOPES.join(","),
      actor: "app",
      state: `${payload}.${sign(payload)}`,
    }).toString();
    return reply
      .header(
        "set-cookie",
        `${STATE_COOKIE}=${nonce}; Path=/linear; HttpOnly; SameSite=Lax; Max-Age=${STATE_TTL_MS / 1000}${secure}`,
      )
      .redirect(url.toString(), 302);
  });

  app.get<{ Querystring: { code?: string; state?: string; error?: string } }>(
    "/linear/oauth/callback",
    async (req, reply) => {
      const { code, state, error } = req.query;
      if (error)
        return page(
          reply,
          400,
          "Linear did not install Tandem",
          `Linear said: ${error}. Start again from /linear/install.`,
        );
      const [payload, signature] = (state ?? "").split(".");
      const cookie = /(?:^|;\s*)tandem_linear_oauth=([^;]+)/.exec(req.headers.cookie ?? "")?.[1];
      let claim: { orgId: string; nonce: string; exp: number } | null = null;
      if (payload && signature) {
        const expected = Buffer.from(sign(payload));
        const given = Buffer.from(signature);
        if (expected.length === given.length && timingSafeEqual(expected, given))
          claim = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      }
      if (!claim || claim.nonce !== cookie || claim.exp < opts.clock.now().getTime() || !code) {
        log.warn({ hasCode: Boolean(code) }, "linear.install_bad_state");
        return page(
          reply,
          400,
          "This install link is not valid here",
          "It expired, was started in another browser, or was changed. Start again from /linear/install.",
        );
      }
      let token;
      try {
        token = await requestToken(opts.settings, { code, redirectUri });
      } catch (err) {
        log.warn({ err: (err as Error).message }, "linear.install_token_failed");
        return page(
          reply,
          502,
          "Linear refused the install",
          `${(err as Error).message}. Start again from /linear/install.`,
        );
      }
      const client = new LinearClient({
        accessToken: token.accessToken,
        apiUrl: opts.settings.apiUrl,
      });
      const [workspace, agent] = await Promise.all([client.organization, client.viewer]);
      const existing = await opts.db.query.installations.findFirst({
        where: and(
          eq(schema.installations.provider, PROVIDER),
          eq(schema.installations.externalId, workspace.id),
        ),
      });
      if (existing && existing.orgId !== claim.orgId) {
        log.warn({ workspaceId: workspace.id }, "linear.install_other_org");
        return page(
          reply,
          409,
          "This Linear workspace belongs to another Tandem organization",
          "An admin of that organization can remove it first.",
        );
      }
      const values = {
        orgId: claim.orgId,
        provider: PROVIDER,
        externalId: workspace.id,
        data: { name: workspace.name, urlKey: workspace.urlKey, appUserId: agent.id },
        credentialsEncrypted: encryptSecret(opts.settings.encryptionKey, JSON.stringify(token)),
      };
      await opts.db
        .insert(schema.installations)
        .values(values)
        .onConflictDoUpdate({
          target: [schema.installations.provider, schema.installations.externalId],
          set: { data: values.data, credentialsEncrypted: values.credentialsEncrypted },
        });
      log.info({ workspaceId: workspace.id, orgId: claim.orgId }, "linear.installed");
      return page(
        reply.header("set-cookie", `${STATE_COOKIE}=; Path=/linear; Max-Age=0`),
        200,
        "Tandem is installed in Linear",
        `Mention or delegate an issue to ${agent.displayName || agent.name} in ${workspace.name} to start a session.`,
      );
    },
  );
}
