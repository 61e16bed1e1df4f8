import http from "node:http";
import https from "node:https";
import { sessionUrl, type IntegrationProvider, type Logger } from "@tandem/core";
import { forwardHeaders } from "../egress-proxy.ts";
import type { GatewayIdentity } from "../types.ts";

/** An integration host's connection: what the egress proxy handed over. */
export interface Served {
  provider: IntegrationProvider;
  host: string;
  identity: GatewayIdentity;
}

export interface ForwardDeps {
  publicUrl: string;
  logger: Logger;
  maxBodyBytes: number;
}

const UPSTREAM_TIMEOUT_MS = 60_000;

function reply(res: http.ServerResponse, status: number, text: string, close = false) {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(text);
}

/** The whole body, or null past `max` bytes (the rest is left unread: the connection closes after the 413). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | null> {
  if (Number(req.headers["content-length"] ?? 0) > max) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        resolve(null);
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const hasBody = (req: http.IncomingMessage) =>
  Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;

/**
 * One request from the agent to an integration host: refused for build sandboxes, routed by the
 * provider, sent upstream with the real credential in place of whatever auth the agent sent.
 * Bodies stream, except those the provider rewrites (buffered up to maxBodyBytes).
 */
export async function forwardIntegrationRequest(
  deps: ForwardDeps,
  served: Served,
  req: http.IncomingMessage,
  res: http.ServerResponse,
) {
  const {
    provider,
    host,
    identity: { grant },
  } = served;
  const method = req.method ?? "GET";
  const url = new URL(req.url ?? "/", `https://${host}`);
  const log = deps.logger.child({
    orgId: grant.orgId,
    sessionId: grant.sessionId,
    provider: provider.name,
  });
  if (!grant.sessionId) {
    log.info(
      { purpose: grant.purpose, method, host, path: url.pathname },
      "integration.refused_build",
    );
    return reply(
      res,
      403,
      `${provider.title} is not reachable from this sandbox (${grant.purpose}): ` +
        "Tandem lends integration credentials to sessions only, not to snapshot builds or setup runs\n",
    );
  }
  const route = provider.route(
    { method, host, url, headers: req.headers },
    sessionUrl(deps.publicUrl, grant.sessionId),
  );
  if ("refuse" in route) {
    log.info({ method, host, path: url.pathname, status: route.refuse }, "integration.refused");
    return reply(res, route.refuse, route.text);
  }
  const credential = await provider.credential({
    orgId: grant.orgId,
    sessionId: grant.sessionId,
    repositoryIds: grant.repositoryIds,
  });
  if (!credential) {
    log.info({ method, host, path: url.pathname }, "integration.no_credential");
    return reply(
      res,
      403,
      `Tandem has no ${provider.title} credential for this session (for GitHub: its repository is not ` +
        "reached through the GitHub App; otherwise the integration is not set up on this Tandem)\n",
    );
  }

  const headers = forwardHeaders(req.headers);
  delete headers.authorization;
  Object.assign(headers, credential, { host: route.upstream.host });
  let body: Buffer | undefined;
  let rewritten = false;
  if (route.rewrite && hasBody(req)) {
    const encoding = req.headers["content-encoding"];
    if (encoding && encoding !== "identity") {
      return reply(
        res,
        415,
        "the sandbox gateway adds the View session link to what is written here: send this body uncompressed\n",
        true,
      );
    }
    const read = await readBody(req, deps.maxBodyBytes);
    if (!read) {
      log.info(
        { method, host, path: url.pathname, maxBodyBytes: deps.maxBodyBytes },
        "integration.body_too_large",
      );
      return reply(
        res,
        413,
        `the sandbox gateway reads bodies of writes here up to ${deps.maxBodyBytes} bytes; this one is larger\n`,
        true,
      );
    }
    const out = route.rewrite(read, String(req.headers["content-type"] ?? ""));
    rewritten = out !== undefined;
    body = out ?? read;
    headers["content-length"] = String(body.length);
  }

  const client = route.upstream.protocol === "https:" ? https : http;
  const upstream = client.request(route.upstream, {
    method,
    headers,
    timeout: UPSTREAM_TIMEOUT_MS,
  });
  upstream.on("timeout", () => upstream.destroy(new Error("upstream timeout")));
  upstream.on("response", (up) => {
    res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardHeaders(up.headers));
    up.pipe(res);
    log.info(
      {
        method,
        host,
        path: url.pathname,
        upstream: route.upstream.host,
        status: up.statusCode,
        rewritten,
      },
      "integration.forwarded",
    );
  });
  upstream.on("error", (err) => {
    log.warn(
      { method, host, path: url.pathname, upstream: route.upstream.host, err: err.message },
      "integration.upstream_failed",
    );
    if (!res.headersSent)
      reply(res, 502, `the sandbox gateway could not reach ${provider.title} (${err.message})\n`);
    else res.destroy();
  });
  res.on("close", () => upstream.destroy());
  if (body) upstream.end(body);
  else req.pipe(upstream);
}
