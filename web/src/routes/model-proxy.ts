import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import https from "node:https";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { badRequest, recordSessionUsage, UsageMeter, type Logger } from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { requestLogger } from "../http.ts";
import { requireSandboxSession } from "../sandbox-auth.ts";

/** What the sandbox calls; everything after it is appended to MODEL_UPSTREAM_URL (which ends in /v1). */
export const MODEL_PROXY_PREFIX = "/proxy/model/v1";
/** Whole conversations are resent each turn; the app's 2 MB limit is too small for them. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Streams send something every few seconds; a silent upstream this long is dead. */
const UPSTREAM_IDLE_TIMEOUT_MS = 15 * 60_000;

const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];
/** The sandbox's token, cookies and framing stay here; the upstream gets the real key instead. */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, "authorization", "host", "cookie", "content-length", "accept-encoding"]);
const NOT_RETURNED = new Set(HOP_BY_HOP);

/** Forwards `/proxy/model/v1/*` to the model upstream for sandboxes, with the raw body and an unbuffered reply. */
export function modelProxyRoutes(app: FastifyInstance, deps: WebDeps) {
  void app.register(async (scope) => {
    // Raw bytes for every content type, in this scope only; the rest of the app keeps parsing JSON.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => done(null, body));
    const handler = (req: FastifyRequest, reply: FastifyReply) => forward(deps, req, reply);
    scope.all(MODEL_PROXY_PREFIX, handler);
    scope.all(`${MODEL_PROXY_PREFIX}/*`, handler);
  });
}

/**
 * The upstream path for a proxied request URL: MODEL_UPSTREAM_URL's path + what follows the
 * prefix, query string kept byte for byte. Null when the URL would leave the prefix (dot
 * segments, encoded slashes), which an upstream or a proxy in front of it might resolve.
 */
export function upstreamPath(upstreamBase: URL, requestUrl: string): string | null {
  if (!requestUrl.startsWith(MODEL_PROXY_PREFIX)) return null;
  const rest = requestUrl.slice(MODEL_PROXY_PREFIX.length);
  const q = rest.indexOf("?");
  const path = q >= 0 ? rest.slice(0, q) : rest;
  if (path !== "" && !path.startsWith("/")) return null;
  for (const segment of path.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return null;
    }
    if (decoded === "." || decoded === ".." || /[/\\]/.test(decoded)) return null;
  }
  return upstreamBase.pathname.replace(/\/$/, "") + path + (q >= 0 ? rest.slice(q) : "");
}

function upstreamHeaders(incoming: IncomingHttpHeaders, apiKey: string | undefined, body: Buffer | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
  }
  // Identity, so the usage events can be read as they pass.
  headers["accept-encoding"] = "identity";
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  if (body) headers["content-length"] = body.length;
  return headers;
}

async function forward(deps: WebDeps, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await requireSandboxSession(deps, req);
  const base = new URL(deps.config.MODEL_UPSTREAM_URL);
  const path = upstreamPath(base, req.url);
  if (path === null) throw badRequest(`the model proxy forwards only paths under ${MODEL_PROXY_PREFIX}/, without dot segments`);
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
  upstream.setTimeout(UPSTREAM_IDLE_TIMEOUT_MS, () => upstream.destroy(new Error("model upstream went silent")));

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
      error: { code: "upstream_unreachable", message: `the model upstream could not be reached${code ? ` (${code})` : ""}; see the control plane's log` },
    });
  });

  upstream.on("response", (up) => {
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(up.headers)) {
      if (value !== undefined && !NOT_RETURNED.has(name)) headers[name] = value;
    }
    if (String(up.headers["content-type"]).startsWith("text/event-stream")) headers["x-accel-buffering"] = "no";
    res.writeHead(up.statusCode ?? 502, headers);
    res.flushHeaders();

    const encoded = up.headers["content-encoding"] !== undefined && up.headers["content-encoding"] !== "identity";
    const meter = encoded || (up.statusCode ?? 500) >= 300 ? null : new UsageMeter(up.headers["content-type"]);
    up.on("data", (chunk: Buffer) => {
      meter?.push(chunk);
      if (!res.write(chunk)) up.pause();
    });
    res.on("drain", () => up.resume());
    up.on("end", () => {
      // Usage is on the session row before the client sees the end of the reply.
      void record(deps, log, session.id, meter).finally(() => res.end());
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

async function record(deps: WebDeps, log: Logger, sessionId: string, meter: UsageMeter | null) {
  if (!meter) return;
  const usage = meter.finish();
  try {
    await recordSessionUsage(deps.database.db, sessionId, usage);
    if (usage.inputTokens || usage.outputTokens) log.debug({ ...usage }, "model_proxy.usage");
  } catch (err) {
    log.error({ err }, "model_proxy.usage_not_recorded");
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
