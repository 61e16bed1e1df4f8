import type { FastifyReply, FastifyRequest } from "fastify";
import { forbidden } from "@tandem/core";
import type { WebDeps } from "../deps.ts";

/**
 * WebSockets are not covered by CORS or SameSite=Lax for same-site pages, so every upgrade must
 * come from a page of Tandem itself: the `Origin` header equals PUBLIC_URL's origin.
 */
export const requireSameOrigin =
  (deps: WebDeps) => async (req: FastifyRequest, _reply: FastifyReply) => {
    const expected = new URL(deps.config.PUBLIC_URL).origin;
    if (req.headers.origin !== expected)
      throw forbidden(`WebSocket connections must come from ${expected}`);
  };
