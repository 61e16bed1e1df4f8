import http from "node:http";
import type net from "node:net";
import tls from "node:tls";
import type { Config, IntegrationProvider, Logger } from "@tandem/core";
import type { GatewayCa } from "./ca.ts";
import { forwardIntegrationRequest, type Served } from "./integrations/forward.ts";
import type { IntegrationInterceptor } from "./types.ts";

export interface IntegrationDeps {
  config: Config;
  logger: Logger;
  /** The integrations served: those of the configured providers (`ChatProvider.integration`). */
  integrations: readonly IntegrationProvider[];
}

export interface IntegrationOptions {
  /** Largest body buffered to add the session link; larger writes get 413. */
  maxBodyBytes?: number;
}

export interface IntegrationGateway extends IntegrationInterceptor {
  /** The hosts served, whatever a profile exposes (for the lead's transparent listener, say). */
  readonly hosts: readonly string[];
  /** Ends every connection it serves (at shutdown). */
  close(): void;
}

const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The egress proxy's integration interceptor: for the hosts of the integrations a profile
 * version exposes, it terminates the agent's TLS with a leaf from the gateway CA and serves the
 * requests inside through one HTTP server, each forwarded with the real credential (see forward.ts).
 */
export function createIntegrationInterceptor(
  deps: IntegrationDeps,
  ca: GatewayCa,
  opts: IntegrationOptions = {},
): IntegrationGateway {
  const logger = deps.logger.child({ component: "integrations" });
  const byHost = new Map<string, IntegrationProvider>();
  for (const provider of deps.integrations) {
    for (const host of provider.hosts) if (!byHost.has(host)) byHost.set(host, provider);
  }
  const forwardDeps = {
    publicUrl: deps.config.PUBLIC_URL,
    logger,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  };
  const served = new WeakMap<net.Socket, Served>();
  const open = new Set<tls.TLSSocket>();

  const server = http.createServer((req, res) => {
    const conn = served.get(req.socket);
    if (!conn) return void res.destroy();
    void forwardIntegrationRequest(forwardDeps, conn, req, res).catch((err: unknown) => {
      logger.error(
        { err, sessionId: conn.identity.grant.sessionId, provider: conn.provider.name },
        "integration.failed",
      );
      if (res.headersSent) return void res.destroy();
      const text = `the sandbox gateway could not serve this ${conn.provider.title} request (${(err as Error).message})\n`;
      res.writeHead(502, {
        "content-type": "text/plain; charset=utf-8",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
    });
  });

  return {
    hosts: [...byHost.keys()],
    handles(host, identity) {
      const provider = byHost.get(host);
      return provider !== undefined && (identity.integrations ?? []).includes(provider.name);
    },
    serve(socket, host, identity) {
      const provider = byHost.get(host);
      if (!provider) return void socket.destroy();
      const secure = new tls.TLSSocket(socket as net.Socket, {
        isServer: true,
        secureContext: ca.secureContext(host),
        ALPNProtocols: ["http/1.1"],
      });
      served.set(secure, { provider, host, identity });
      open.add(secure);
      secure.on("error", (err) => {
        // Most often a client that does not trust the gateway CA.
        logger.info(
          { host, sessionId: identity.grant.sessionId, err: err.message },
          "integration.tls_failed",
        );
        secure.destroy();
      });
      secure.on("close", () => {
        open.delete(secure);
        socket.destroy();
      });
      server.emit("connection", secure);
    },
    close() {
      for (const s of open) s.destroy();
    },
  };
}
