import { App, SocketModeReceiver, type Receiver } from "@slack/bolt";
import type { FastifyReply, FastifyRequest } from "fastify";
import { acceptInbound, withTimeout, type InboxDeps, type Logger } from "@tandem/core";
import { slackLogger } from "./client.ts";
import { ACTIONS, PROVIDER, SLASH_COMMAND } from "./config.ts";
import {
  deliveryIdFor,
  parseSlackBody,
  toTrigger,
  verifySlackSignature,
} from "./trigger-source.ts";

/** What became of one delivery; anything but "failed" is acknowledged. */
interface Delivery {
  outcome: "ignored" | "committed" | "duplicate" | "failed";
  ackBody?: unknown;
}

type Ack = (response?: unknown) => Promise<void>;

/** How long a delivery may take to commit before we answer 503; a retry is deduplicated anyway. */
const COMMIT_BUDGET_MS = 2_500;

interface ListenerArgs {
  body: unknown;
  context: Record<string, unknown>;
  ack?: Ack;
}

/**
 * Bolt, used only to receive: its listeners commit each delivery Tandem acts on to the inbox and
 * acknowledge it after that. The worker does the rest (see router.ts). Authorization is a no-op
 * here: the web and bot processes never call Slack on a delivery's behalf.
 */
export function createIngressApp(
  deps: InboxDeps & { apiUrl: string; allowBots: boolean },
  receiver: Receiver,
): App {
  const app = new App({
    receiver,
    authorize: async (source) => ({ teamId: source.teamId, enterpriseId: source.enterpriseId }),
    ignoreSelf: false,
    convoStore: false,
    tokenVerificationEnabled: false,
    logger: slackLogger(deps.logger),
    clientOptions: { slackApiUrl: deps.apiUrl },
  });
  const commit = async ({ body, context, ack }: ListenerArgs) => {
    const delivery = context.tandemDelivery as Delivery;
    const trigger = toTrigger(body, { allowBots: deps.allowBots });
    if (trigger.type === "ignore") {
      deps.logger.debug({ reason: trigger.reason }, "slack.delivery_ignored");
      return ack?.();
    }
    try {
      // Slack gives up after 3 s; a slow database gets a 503 (and Slack's retry) before that.
      const { duplicate } = await withTimeout(
        acceptInbound(deps, {
          provider: PROVIDER,
          deliveryId: deliveryIdFor(body as Record<string, unknown>),
          payload: body,
        }),
        COMMIT_BUDGET_MS,
        "the inbox did not commit in time",
      );
      delivery.outcome = duplicate ? "duplicate" : "committed";
    } catch (err) {
      deps.logger.error({ err }, "slack.inbox_failed");
      delivery.outcome = "failed";
      return;
    }
    await ack?.();
  };
  app.event("app_mention", (args) => commit(args as ListenerArgs));
  app.message((args) => commit(args as ListenerArgs));
  app.action(ACTIONS.pickRepo, (args) => commit(args as ListenerArgs));
  app.action(ACTIONS.stop, (args) => commit(args as ListenerArgs));
  app.action(ACTIONS.view, async ({ ack }) => ack());
  app.command(SLASH_COMMAND, (args) => commit(args as ListenerArgs));
  app.error(async (err) => deps.logger.warn({ err }, "slack.bolt_error"));
  return app;
}

/**
 * Runs one delivery through Bolt, holding Slack's acknowledgement until the listeners are done:
 * Bolt acknowledges events before its middleware runs, but we may only do so once committed.
 */
async function deliver(
  app: App,
  body: Record<string, unknown>,
  retryNum?: number,
  retryReason?: string,
): Promise<Delivery> {
  const delivery: Delivery = { outcome: "ignored" };
  try {
    await app.processEvent({
      body,
      retryNum,
      retryReason,
      ack: async (response?: unknown) => {
        delivery.ackBody = response;
      },
      customProperties: { tandemDelivery: delivery },
    });
  } catch {
    delivery.outcome = "failed";
  }
  return delivery;
}

/** Bolt's receiver for Fastify routes: verifies the signature on the raw body, then `deliver`s. */
export class FastifySlackReceiver implements Receiver {
  private app?: App;

  constructor(
    private readonly opts: { signingSecret: string; now: () => number; logger: Logger },
  ) {}

  init(app: App) {
    this.app = app;
  }
  async start() {}
  async stop() {}

  async handle(req: FastifyRequest, reply: FastifyReply) {
    const raw = typeof req.body === "string" ? req.body : "";
    if (!verifySlackSignature(this.opts.signingSecret, raw, req.headers, this.opts.now())) {
      this.opts.logger.warn({ url: req.url }, "slack.bad_signature");
      return reply
        .code(401)
        .send({ error: { code: "bad_signature", message: "invalid or stale Slack signature" } });
    }
    let body: Record<string, unknown>;
    try {
      body = parseSlackBody(raw, req.headers["content-type"]);
    } catch {
      return reply
        .code(400)
        .send({ error: { code: "bad_request", message: "unreadable Slack payload" } });
    }
    if (body.type === "url_verification") return reply.send({ challenge: body.challenge });
    if (body.ssl_check) return reply.send();
    const retryNum = Number(req.headers["x-slack-retry-num"] ?? "") || undefined;
    const retryReason =
      typeof req.headers["x-slack-retry-reason"] === "string"
        ? req.headers["x-slack-retry-reason"]
        : undefined;
    const delivery = await deliver(this.app!, body, retryNum, retryReason);
    // Not committed: a 5xx makes Slack deliver it again (events) or tell the person (interactions).
    if (delivery.outcome === "failed")
      return reply.code(503).send({ error: { code: "unavailable", message: "try again" } });
    const ackBody = delivery.ackBody;
    if (ackBody === undefined || ackBody === "") return reply.code(200).send();
    return typeof ackBody === "string"
      ? reply.type("text/plain").send(ackBody)
      : reply.send(ackBody);
  }
}

/**
 * Socket Mode: Bolt's receiver, with each envelope acknowledged only after it was committed. An
 * envelope that could not be committed is left unacknowledged, so Slack sends it again.
 */
export class CommitFirstSocketReceiver implements Receiver {
  private readonly inner: SocketModeReceiver;

  constructor(opts: { appToken: string; apiUrl: string; logger: Logger }) {
    this.inner = new SocketModeReceiver({
      appToken: opts.appToken,
      logger: slackLogger(opts.logger),
      installerOptions: { clientOptions: { slackApiUrl: opts.apiUrl } },
      processEventErrorHandler: async ({ error }) => {
        opts.logger.warn({ err: error }, "slack.socket_delivery_failed");
        return false;
      },
    });
  }

  init(app: App) {
    this.inner.init({
      processEvent: async (event: {
        body: Record<string, unknown>;
        ack: Ack;
        retryNum?: number;
        retryReason?: string;
      }) => {
        const delivery = await deliver(app, event.body, event.retryNum, event.retryReason);
        if (delivery.outcome === "failed") throw new Error("the inbox did not take the delivery");
        await event.ack(delivery.ackBody);
      },
    } as unknown as App);
  }
  start() {
    return this.inner.start();
  }
  stop() {
    return this.inner.stop();
  }
}
