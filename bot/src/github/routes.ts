import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { eq } from "drizzle-orm";
import {
  acceptInbound,
  badRequest,
  notFound,
  schema,
  type Clock,
  type Config,
  type Db,
  type Logger,
  type Queues,
} from "@tandem/core";
import { githubSettings, PROVIDER } from "./config.ts";
import {
  findGitHubInstallation,
  listInstallations,
  recordInstallation,
  syncInstallationRepositories,
} from "./installations.ts";
import { sharedGitHubApp } from "./shared.ts";
import type { StoredDelivery } from "./trigger-source.ts";

export interface GitHubRouteOptions {
  config: Config;
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
  /** The org an admin acts for; throws (401/403) for anyone else. */
  adminOrg(req: FastifyRequest): Promise<string>;
  /** Whether the caller is an owner or admin of the default organization (the instance's operators). */
  adminsDefaultOrg(req: FastifyRequest): Promise<boolean>;
}

/** Events Tandem acts on; anything else is acknowledged and dropped before the inbox. */
const EVENTS = new Set([
  "issue_comment",
  "pull_request_review_comment",
  "issues",
  "installation",
  "installation_repositories",
]);

/**
 * GitHub's HTTP surface, as a Fastify plugin: the webhook (signature checked on the raw body,
 * committed to the inbox before the 2xx), the installations an admin may claim, and the claim. Registers nothing
 * when the App is not configured.
 */
export async function githubRoutes(app: FastifyInstance, opts: GitHubRouteOptions) {
  const settings = githubSettings(opts.config);
  if (!settings) return;
  const github = sharedGitHubApp(settings, opts.logger, opts.clock);
  const log = opts.logger.child({ provider: PROVIDER });

  await app.register(async (hooks) => {
    // The signature covers the exact bytes GitHub sent: keep the body as a string.
    hooks.removeAllContentTypeParsers();
    hooks.addContentTypeParser(
      "*",
      { parseAs: "string", bodyLimit: 25 * 1024 * 1024 },
      (_req, body, done) => done(null, body),
    );
    hooks.post("/hooks/github", async (req, reply) => {
      const raw = typeof req.body === "string" ? req.body : "";
      const signature = req.headers["x-hub-signature-256"];
      if (!(await github.verify(raw, typeof signature === "string" ? signature : undefined))) {
        log.warn({ url: req.url }, "github.bad_signature");
        return reply
          .code(401)
          .send({ error: { code: "bad_signature", message: "invalid X-Hub-Signature-256" } });
      }
      const event = req.headers["x-github-event"];
      const deliveryId = req.headers["x-github-delivery"];
      if (typeof event !== "string" || typeof deliveryId !== "string" || !deliveryId) {
        return reply.code(400).send({
          error: {
            code: "bad_request",
            message: "X-GitHub-Event and X-GitHub-Delivery are required",
          },
        });
      }
      if (event === "ping") return reply.send({ ok: true });
      if (!EVENTS.has(event)) return reply.code(202).send({ ignored: event });
      let payload: unknown;
      try {
        payload = JSON.parse(raw);
      } catch {
        return reply
          .code(400)
          .send({ error: { code: "bad_request", message: "the payload is not JSON" } });
      }
      const delivery: StoredDelivery = { event, payload };
      try {
        const { duplicate } = await acceptInbound(
          { db: opts.db, queues: opts.queues, logger: log, clock: opts.clock },
          {
            provider: PROVIDER,
            deliveryId,
            payload: delivery,
          },
        );
        return reply.code(202).send({ duplicate });
      } catch (err) {
        // Not committed: a 5xx makes GitHub's redelivery (or the admin's) try again.
        log.error({ err }, "github.inbox_failed");
        return reply.code(503).send({ error: { code: "unavailable", message: "try again" } });
      }
    });
  });

  // What the caller may act on, by the claim's rules: their org's installations, and the default
  // org's (where new ones arrive) when they administer the default org.
  app.get("/api/github/installations", async (req) => {
    const orgId = await opts.adminOrg(req);
    const orgIds = [orgId];
    if (await opts.adminsDefaultOrg(req)) {
      const defaultOrg = await opts.db.query.organizations.findFirst({
        where: eq(schema.organizations.isDefault, true),
      });
      if (defaultOrg && defaultOrg.id !== orgId) orgIds.push(defaultOrg.id);
    }
    return { installations: await listInstallations(opts.db, orgIds) };
  });

  app.post("/api/github/installations/:installationId/claim", async (req) => {
    const orgId = await opts.adminOrg(req);
    const params = z
      .object({ installationId: z.coerce.number().int().positive() })
      .safeParse(req.params);
    if (!params.success) throw badRequest("installationId must be a number");
    // An installation arrives in the default org. Only the instance's operators (admins of the
    // default org) hand it to another org; once there, only that org's admins re-sync it, and
    // nobody else can take it away (another org's installation answers 404, as if unknown).
    const existing = await findGitHubInstallation(opts.db, params.data.installationId);
    // Known only from GitHub's own installation event: an id cannot be claimed ahead of it.
    if (!existing) throw notFound("installation");
    if (existing.orgId !== orgId) {
      const inDefaultOrg = (
        await opts.db.query.organizations.findFirst({
          where: eq(schema.organizations.id, existing.orgId),
        })
      )?.isDefault;
      if (!inDefaultOrg || !(await opts.adminsDefaultOrg(req))) throw notFound("installation");
    }
    const row = await recordInstallation(opts.db, {
      installationId: params.data.installationId,
      orgId,
      defaultOrgName: opts.config.DEFAULT_ORG_NAME,
    });
    const repositories = await syncInstallationRepositories(
      { db: opts.db, github, logger: log },
      row,
    );
    log.info({ installationId: params.data.installationId, orgId }, "github.installation_claimed");
    return { installationId: params.data.installationId, orgId, repositories };
  });
}
