import type { FastifyInstance } from "fastify";
import type { Config } from "@tandem/core";

/** Listens; returns the address actually bound (PORT=0 picks a free port). */
export async function listen(app: FastifyInstance, config: Config): Promise<string> {
  return app.listen({ port: config.PORT, host: config.HOST });
}

/** The ports origin's listener, beside the app: wherever the app listens, this listens too. */
export { startPortsServer, type PortsServer } from "./ports/server.ts";
