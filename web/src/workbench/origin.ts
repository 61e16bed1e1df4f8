import type { FastifyReply, FastifyRequest } from "fastify";
import { forbidden } from "@tandem/core";
import type { WebDeps } from "../deps.ts";

/**
 * WebSockets are not covered by CORS or SameSite=Lax for same-site pages, so every upgrade must
 * come from a page of Tandem itself: the `Origin` header equals PUBLIC_URL's origin.
 */
export const requireSameOrigin =
  (deps: WebDeps) => async (req: FastifyRequest, _reply: FastifyReply) =>
    checkOrigin(deps, req.headers.origin);

/** Refuses (403) an origin that is not PUBLIC_URL's, saying what to open or set instead. */
export function checkOrigin(deps: WebDeps, origin: string | undefined) {
  const expected = new URL(deps.config.PUBLIC_URL).origin;
  if (origin !== expected)
    throw forbidden(
      `WebSocket connections must come from ${expected} (PUBLIC_URL), and this page is ${origin ?? "of another origin"}: open Tandem at ${expected}, or set PUBLIC_URL to the address you use`,
    );
}
