import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Registry } from "prom-client";
import type { Clock, Config, Db, Logger } from "@tandem/core";
import {
  normalHost,
  policyAllows,
  resolveTarget,
  systemResolve,
  type Resolve,
} from "./egress-policy.ts";
import { egressRecorder, type EgressRecorder, type Traffic } from "./egress-records.ts";
import type { GatewayIdentity, IntegrationInterceptor } from "./types.ts";

export interface EgressProxyDeps {
  db: Db;
  logger: Logger;
  clock: Clock;
  config: Pick<Config, "SANDBOX_HOST_ALIASES">;
}

export interface EgressProxyOptions {
  /** The identity the gateway attached to the connection; undefined for a socket it did not vet. */
  identify(socket: net.Socket): GatewayIdentity | undefined;
  interceptor?: IntegrationInterceptor;
  metrics?: Registry;
  /** Name → addresses; the system resolver unless a test names its own. */
  resolve?: Resolve;
}

const CONNECT_TIMEOUT_MS = 10_000;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/** What the agent (or curl) reads when the proxy refuses. */
const blockedText = (what: string, identity: GatewayIdentity) =>
  `blocked by the sandbox network policy: ${what} (${identity.profileLabel})\n`;

/**
 * The sandbox's HTTP(S)_PROXY. It never listens itself: the gateway hands it sockets whose
 * identity it vetted (`server.emit("connection", socket)`). CONNECT tunnels and plain-HTTP
 * absolute-URI requests get the same decision: the integration interceptor's hosts first, then
 * the profile version's policy, then the address check that keeps every sandbox off loopback,
 * private and link-local addresses whatever its policy.
 */
export function createEgressProxy(deps: EgressProxyDeps, opts: EgressProxyOptions): http.Server {
  const record = egressRecorder(deps, opts.metrics);
  const ctx: Context = { deps, opts, record, resolve: opts.resolve ?? systemResolve };
  const server = http.createServer((req, res) => {
    void forwardRequest(ctx, req, res).catch((err: unknown) => {
      deps.logger.error({ err }, "egress.failed");
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end();
    });
  });
  server.on("connect", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {});
    void tunnel(ctx, req, socket as net.Socket, head).catch((err: unknown) => {
      deps.logger.error({ err }, "egress.failed");
      socket.destroy();
    });
  });
  return server;
}

interface Context {
  deps: EgressProxyDeps;
  opts: EgressProxyOptions;
  record: EgressRecorder;
  resolve: Resolve;
}

type Decision =
  | { kind: "intercept"; close: (traffic: Traffic) => void }
  | { kind: "connect"; address: string; port: number; close: (traffic: Traffic) => void }
  | { kind: "refuse"; status: number; text: string };

/** The one decision for `host:port`, recorded. */
async function decide(
  ctx: Context,
  identity: GatewayIdentity | undefined,
  method: string,
  host: string,
  port: number,
  intercept: boolean,
): Promise<Decision> {
  if (!identity) {
    ctx.deps.logger.warn({ host, port, method }, "egress.unidentified");
    return {
      kind: "refuse",
      status: 407,
      text: "the sandbox gateway did not identify this connection\n",
    };
  }
  if (intercept && ctx.opts.interceptor?.handles(host, identity)) {
    const { closed } = ctx.record(identity, {
      host,
      port,
      method,
      decision: "intercepted",
      reason: "integration",
    });
    return { kind: "intercept", close: closed };
  }
  const refuse = (reason: string, what: string): Decision => {
    ctx.record(identity, { host, port, method, decision: "blocked", reason });
    return { kind: "refuse", status: 403, text: blockedText(what, identity) };
  };
  if (!policyAllows(identity.policy, host))
    return refuse(`egress ${identity.policy.egress}`, `${host} is not allowed`);
  const target = await resolveTarget(ctx.deps.config.SANDBOX_HOST_ALIASES, ctx.resolve, host, port);
  if (!target.ok) return refuse(target.reason, target.message);
  const { closed } = ctx.record(identity, {
    host,
    port,
    method,
    decision: "allowed",
    reason: target.reason,
  });
  return { kind: "connect", address: target.address, port: target.port, close: closed };
}

/** `host:port` of a CONNECT target, IPv6 in brackets; undefined when malformed. */
function parseAuthority(authority: string | undefined): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+):(\d{1,5})$/.exec(authority ?? "");
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { host: normalHost(m[1]!), port };
}

function answer(socket: Duplex, status: number, text: string) {
  const reason = http.STATUS_CODES[status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

async function tunnel(ctx: Context, req: http.IncomingMessage, socket: net.Socket, head: Buffer) {
  const target = parseAuthority(req.url);
  if (!target) return answer(socket, 400, `CONNECT takes host:port (got ${req.url})\n`);
  const identity = ctx.opts.identify(socket);
  const decision = await decide(ctx, identity, "CONNECT", target.host, target.port, true);
  if (decision.kind === "refuse") return answer(socket, decision.status, decision.text);
  if (decision.kind === "intercept") {
    // The interceptor owns the socket from here; its bytes are counted on the client side, past the CONNECT.
    const read = socket.bytesRead - head.length;
    const established = "HTTP/1.1 200 Connection Established\r\n\r\n";
    const written = socket.bytesWritten + established.length;
    socket.once("close", () =>
      decision.close({
        bytesUp: socket.bytesRead - read,
        bytesDown: socket.bytesWritten - written,
      }),
    );
    socket.write(established);
    // What the client sent after the CONNECT head (its TLS hello, often) belongs to the interceptor.
    if (head.length) socket.unshift(head);
    ctx.opts.interceptor!.serve(socket, target.host, identity!);
    return;
  }
  const upstream = net.connect({ host: decision.address, port: decision.port });
  upstream.setTimeout(CONNECT_TIMEOUT_MS, () => upstream.destroy(new Error("connect timeout")));
  let established = false;
  upstream.once("connect", () => {
    established = true;
    upstream.setTimeout(0);
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  upstream.on("error", (err) => {
    ctx.deps.logger.info({ host: target.host, err: err.message }, "egress.upstream_failed");
    if (!established)
      answer(
        socket,
        502,
        `the sandbox gateway could not reach ${target.host}:${target.port} (${err.message})\n`,
      );
    else socket.destroy();
  });
  socket.on("close", () => upstream.destroy());
  upstream.on("close", () => {
    // Before it was established, the 502 above is still being written: end() closes the socket after it.
    if (established) socket.destroy();
    decision.close({ bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead });
  });
}

/** The request's headers for the upstream: hop-by-hop ones, those Connection names and Proxy-* removed. */
export function forwardHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  return Object.fromEntries(
    Object.entries(headers).filter(
      ([name]) => !HOP_BY_HOP.has(name) && !named.has(name) && !name.startsWith("proxy-"),
    ),
  );
}

/** A plain-HTTP request through the proxy (`GET http://host/path`): decided, then forwarded and streamed. */
async function forwardRequest(ctx: Context, req: http.IncomingMessage, res: http.ServerResponse) {
  let url: URL;
  try {
    url = new URL(req.url ?? "");
  } catch {
    res.writeHead(400, { "content-type": "text/plain" });
    return res.end(
      "this is the sandbox's egress proxy: send absolute URIs (http://host/path) or CONNECT host:port\n",
    );
  }
  if (url.protocol !== "http:") {
    res.writeHead(400, { "content-type": "text/plain" });
    return res.end(
      `only http:// URLs are forwarded; use CONNECT for ${url.protocol}// (got ${url.href})\n`,
    );
  }
  const host = normalHost(url.hostname);
  const port = Number(url.port || 80);
  const decision = await decide(
    ctx,
    ctx.opts.identify(req.socket),
    req.method ?? "GET",
    host,
    port,
    false,
  );
  if (decision.kind !== "connect") {
    const { status, text } = decision.kind === "refuse" ? decision : { status: 403, text: "" };
    res.writeHead(status, {
      "content-type": "text/plain",
      "content-length": Buffer.byteLength(text),
    });
    return res.end(text);
  }
  const upstream = http.request({
    host: decision.address,
    port: decision.port,
    method: req.method,
    path: `${url.pathname}${url.search}`,
    headers: { ...forwardHeaders(req.headers), host: url.host },
    agent: false,
    timeout: CONNECT_TIMEOUT_MS,
  });
  let sent = 0;
  let received = 0;
  req.on("data", (chunk: Buffer) => {
    sent += chunk.length;
  });
  upstream.on("timeout", () => upstream.destroy(new Error("upstream timeout")));
  upstream.on("response", (up) => {
    upstream.setTimeout(0);
    const headers = forwardHeaders(up.headers);
    res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
    up.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    up.pipe(res);
  });
  upstream.on("error", (err) => {
    ctx.deps.logger.info({ host, err: err.message }, "egress.upstream_failed");
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`the sandbox gateway could not reach ${host}:${port} (${err.message})\n`);
    } else res.destroy();
  });
  upstream.on("close", () => decision.close({ bytesUp: sent, bytesDown: received }));
  res.on("close", () => upstream.destroy());
  req.pipe(upstream);
}
