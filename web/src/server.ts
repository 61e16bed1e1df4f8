import type { FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import { usesGateway } from "@tandem/core";
import { buildApp } from "./app.ts";
import type { WebDeps } from "./deps.ts";
import { startSandboxGateway, type SandboxGateway } from "./gateway/gateway.ts";
import { startPortsServer, type PortsServer } from "./ports/server.ts";

export type { PortsServer } from "./ports/server.ts";

export interface WebServer {
  app: FastifyInstance;
  /** Serving when sandboxes use it (SANDBOX_NETWORK=gateway on docker). */
  gateway?: SandboxGateway;
  /** The ports origin's listener, beside the app. */
  ports: PortsServer;
  /** The app's address (PORT=0 picks a free port). */
  base: string;
  close(): Promise<void>;
}

/**
 * Everything the web process serves, listening: the app on PORT, the ports origin on
 * PORTS_PORT and, for gateway sandboxes, the sandbox gateway's socket. One metrics registry, so
 * /metrics counts the gateway's egress decisions too.
 */
export async function serveWeb(deps: WebDeps): Promise<WebServer> {
  const all = { ...deps, metrics: deps.metrics ?? new Registry() };
  const app = await buildApp(all);
  const gateway = usesGateway(deps.config) ? await startSandboxGateway(all) : undefined;
  const base = await app.listen({ port: deps.config.PORT, host: deps.config.HOST });
  const ports = await startPortsServer(all);
  return {
    app,
    gateway,
    ports,
    base,
    async close() {
      await ports.close();
      await gateway?.close();
      await app.close();
    },
  };
}
