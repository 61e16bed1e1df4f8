import http, { type ServerResponse } from "node:http";
import https from "node:https";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  AppError,
  badRequest,
  recordBudgetRefusal,
  recordSessionUsage,
  tokenBudgetExhausted,
  UsageMeter,
  type Logger,
  type Session,
} from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { requestLogger } from "../http.ts";
import { requireSandboxSession } from "../sandbox-auth.ts";
import {
  ALLOWED_ENDPOINTS,
  isAllowedEndpoint,
  MODEL_PROXY_PREFIX,
  NOT_RETURNED,
  upstreamHeaders,
  upstreamPath,
} from "./model-proxy-policy.ts";

/** Whole conversations are resent each turn; the app's 2 MB limit is too small for them. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Streams send something every few seconds; a silent upstream this long is dead. */
const UPSTREAM_IDLE_TIMEOUT_MS = 15 * 60_000;

/** What the onRequest checks found, for the handler once the body is in. */
interface Admitted {
  session: Session;
  path: string;
}
const admitted = new WeakMap<FastifyRequest, Admitted>();

/**
 * Forwards the agent's model calls under `/proxy/model/v1/` to the model upstream for sandboxes,
 * with the raw body and an unbuffered reply. Token, endpoint and budget are checked in
 * `onRequest`, before the body is read: a stranger's (or a refused) 60 MB is never buffered.
 */
export function modelProxyRoutes(app: FastifyInstance, deps: WebDeps) {
  void app.register(async (scope) => {
    // Raw bytes for every content type, in this scope only; the rest of the app keeps parsing JSON.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      "*",
      { parseAs: "buffer", bodyLimit: MAX_BODY_BYTES },
      (_req, body, done) => done(null, body),
    );
    scope.addHook("onRequest", async (req, reply) => {
      const session = await requireSandboxSession(deps, req);
      const target = upstreamPath(new URL(deps.config.MODEL_UPSTREAM_URL), req.url);
      if (target === null)
        throw badRequest(
          `the model proxy forwards only paths under ${MODEL_PROXY_PREFIX}/, without dot segments`,
        );
      if (!isAllowedEndpoint(req.method, target.endpoint)) {
        throw new AppError(
          "not_found",
          `the model proxy does not forward ${req.method} ${MODEL_PROXY_PREFIX}${target.endpoint}; it forwards ${ALLOWED_ENDPOINTS.join(", ")}`,
          404,
        );
      }
      const exhausted = await tokenBudgetExhausted(deps.database.db, session, deps.clock.now());
      if (exhausted) {
        await recordBudgetRefusal(
          { db: deps.database.db, bus: deps.bus, logger: deps.logger },
          session,
          exhausted,
        );
        requestLogger(req, { sessionId: session.id }).info(
          { reason: exhausted },
          "model_proxy.budget_exhausted",
        );
        // x-should-retry: the OpenAI SDKs would otherwise retry a 429 a few times.
        return reply
          .code(429)
          .header("x-should-retry", "false")
          .send({
            error: {
              code: "token_budget_exhausted",
              type: "token_budget_exhausted",
              message: exhausted,
            },
          });
      }
      admitted.set(req, { session, path: target.path });
    });
    const handler = (req: FastifyRequest, reply: FastifyReply) => forward(deps, req, reply);
    scope.all(MODEL_PROXY_PREFIX, handler);
    scope.all(`${MODEL_PROXY_PREFIX}/*`, handler);
  });
}

async function forward(deps: WebDeps, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const { session, path } = admitted.get(req)!;
  const base = new URL(deps.config.MODEL_UPSTREAM_URL);
  const log = requestLogger(req, { sessionId: session.id });
  const body = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : undefined;

  reply.hijack();
  const res = reply.raw;
  const upstream = (base.protocol === "https:" ? https : http).request({
    protocol: base.protocol,
    hostname: base.hostname.replace(/^\[|\]$/g, ""),
    port: base.port || undefined,
    path,
    method: req.method,
    headers: upstreamHeaders(req.headers, deps.config.MODEL_UPSTREAM_API_KEY, body),
  });
  upstream.setTimeout(UPSTREAM_IDLE_TIMEOUT_MS, () =>
    upstream.destroy(new Error("model upstream went silent")),
  );

  let clientGone = false;
  res.on("close", () => {
    if (res.writableFinished) return;
    clientGone = true;
    upstream.destroy();
  });

  upstream.on("error", (err) => {
    if (clientGone) return log.info({ path }, "model_proxy.client_closed");
    if (res.headersSent) {
      log.warn({ err, path }, "model_proxy.upstream_broke");
      return res.destroy();
    }
    log.error({ err, path }, "model_proxy.upstream_unreachable");
    const code = (err as NodeJS.ErrnoException).code;
    sendJson(res, 502, {
      error: {
        code: "upstream_unreachable",
        message: `the model upstream could not be reached${code ? ` (${code})` : ""}; see the control plane's log`,
      },
    });
  });

  upstream.on("response", (up) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(up.headers)) {
      if (value !== undefined && !NOT_RETURNED.has(name)) headers[name] = value;
    }
    if (String(up.headers["content-type"]).startsWith("text/event-stream"))
      headers["x-accel-buffering"] = "no";
    res.writeHead(up.statusCode ?? 502, headers);
    res.flushHeaders();

    const encoded =
      up.headers["content-encoding"] !== undefined && up.headers["content-encoding"] !== "identity";
    const meter =
      encoded || (up.statusCode ?? 500) >= 300 ? null : new UsageMeter(up.headers["content-type"]);
    up.on("data", (chunk: Buffer) => {
      meter?.push(chunk);
      if (!res.write(chunk)) up.pause();
    });
    res.on("drain", () => up.resume());
    up.on("end", () => {
      // Usage is on the session row before the client sees the end of the reply.
      void record(deps, log, session, meter).finally(() => res.end());
    });
    up.on("error", () => {}); // reported through `close` below
    up.on("close", () => {
      if (!up.complete && !clientGone) {
        log.warn({ path }, "model_proxy.upstream_broke");
        res.destroy();
      }
    });
  });

  upstream.end(body);
}

async function record(deps: WebDeps, log: Logger, session: Session, meter: UsageMeter | null) {
  if (!meter) return;
  const usage = meter.finish();
  try {
    await recordSessionUsage(deps.database.db, session, usage, deps.clock.now());
    if (usage.inputTokens || usage.outputTokens) log.debug({ ...usage }, "model_proxy.usage");
  } catch (err) {
    log.error({ err }, "model_proxy.usage_not_recorded");
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
