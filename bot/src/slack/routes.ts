import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { InstallProvider } from "@slack/oauth";
import type { Clock, Config, Db, Logger, Queues } from "@tandem/core";
import { slackLogger } from "./client.ts";
import { BOT_SCOPES, slackSettings, type SlackSettings } from "./config.ts";
import { createIngressApp, FastifySlackReceiver } from "./ingress.ts";
import { installationStore } from "./installations.ts";

export interface SlackRouteOptions {
  config: Config;
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
  /** The org a workspace install is for: the signed-in owner's or admin's; throws otherwise. */
  adminOrg(req: FastifyRequest): Promise<string>;
}

const MANIFEST = readFileSync(new URL("./manifest.json", import.meta.url), "utf8");

/** The app manifest with this deployment's addresses, ready to paste into "Create an app → From a manifest". */
const slackManifest = (publicUrl: string) =>
  JSON.parse(MANIFEST.replaceAll("https://tandem.example.com", publicUrl.replace(/\/$/, "")));

/**
 * Slack's HTTP surface, as a Fastify plugin: the three webhook routes (signature checked on the
 * raw body), the OAuth install and redirect, and the manifest. Registers nothing when Slack is
 * not configured.
 */
export async function slackRoutes(app: FastifyInstance, opts: SlackRouteOptions) {
  const settings = slackSettings(opts.config);
  if (!settings) return;
  const log = opts.logger.child({ provider: "slack" });
  app.get("/slack/manifest.json", async () => slackManifest(settings.publicUrl));

  if (settings.signingSecret) {
    const receiver = new FastifySlackReceiver({
      signingSecret: settings.signingSecret,
      now: () => opts.clock.now().getTime(),
      logger: log,
    });
    createIngressApp(
      {
        db: opts.db,
        queues: opts.queues,
        logger: log,
        clock: opts.clock,
        apiUrl: settings.apiUrl,
        allowBots: settings.allowBots,
      },
      receiver,
    );
    await app.register(async (hooks) => {
      // The signature covers the exact bytes Slack sent: keep the body as a string.
      hooks.removeAllContentTypeParsers();
      hooks.addContentTypeParser(
        "*",
        { parseAs: "string", bodyLimit: 1024 * 1024 },
        (_req, body, done) => done(null, body),
      );
      for (const kind of ["events", "interactions", "commands"]) {
        hooks.post(`/hooks/slack/${kind}`, (req, reply) => receiver.handle(req, reply));
      }
    });
  } else if (!settings.appToken) {
    log.warn(
      { fix: "set SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode)" },
      "slack.no_event_source",
    );
  }
  if (settings.clientId && settings.clientSecret) installRoutes(app, opts, settings, log);
}

function installRoutes(
  app: FastifyInstance,
  opts: SlackRouteOptions,
  settings: SlackSettings,
  log: Logger,
) {
  const installer = new InstallProvider({
    clientId: settings.clientId!,
    clientSecret: settings.clientSecret!,
    stateSecret: createHmac("sha256", settings.clientSecret!)
      .update("tandem slack oauth state")
      .digest("hex"),
    installationStore: installationStore({ db: opts.db, encryptionKey: settings.encryptionKey }),
    clientOptions: { slackApiUrl: settings.apiUrl },
    authorizationUrl: new URL("../oauth/v2/authorize", settings.apiUrl).toString(),
    directInstall: true,
    logger: slackLogger(log),
  });
  const redirectUri = `${settings.publicUrl}/slack/oauth_redirect`;
  const page = (title: string, body: string) =>
    `<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>${body}</p>`;

  app.get("/slack/install", async (req, reply) => {
    let orgId: string;
    try {
      orgId = await opts.adminOrg(req);
    } catch {
      return reply
        .code(401)
        .type("text/html")
        .send(
          page(
            "Sign in first",
            "Open your Tandem login link as an owner or admin of the organization, then come back to this page.",
          ),
        );
    }
    reply.hijack();
    await installer.handleInstallPath(
      req.raw,
      reply.raw,
      {},
      { scopes: BOT_SCOPES, redirectUri, metadata: JSON.stringify({ orgId }) },
    );
  });

  app.get("/slack/oauth_redirect", async (req, reply) => {
    reply.hijack();
    await installer.handleCallback(req.raw, reply.raw, {
      success: (installation, _opts, _req, res) => {
        log.info({ teamId: installation.team?.id }, "slack.installed");
        res.writeHead(200, { "content-type": "text/html" });
        res.end(
          page(
            "Tandem is installed",
            `Mention @Tandem in a thread in ${installation.team?.name ?? "your workspace"} to start a session.`,
          ),
        );
      },
      failure: (err, _opts, _req, res) => {
        log.warn({ err }, "slack.install_failed");
        res.writeHead(400, { "content-type": "text/html" });
        res.end(
          page(
            "Slack install failed",
            `${err.message.replace(/[<>&]/g, "")}. Start again from /slack/install.`,
          ),
        );
      },
    });
  });
}
