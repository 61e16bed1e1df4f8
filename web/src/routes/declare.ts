import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { OpenApiRegistry, RouteDoc } from "../openapi.ts";

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Registers a route and its OpenAPI entry in one statement, so the document cannot drift. */
export function routeDeclarer(app: FastifyInstance, registry: OpenApiRegistry) {
  return (doc: RouteDoc, handler: Handler) => {
    registry.add(doc);
    app.route({ method: doc.method, url: doc.url, handler });
  };
}
export type Declare = ReturnType<typeof routeDeclarer>;
