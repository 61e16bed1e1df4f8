import { randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { forbidden } from "@tandem/core";
import { readCookie, SESSION_COOKIE } from "../auth.ts";
import type { WebDeps } from "../deps.ts";

const CSRF_COOKIE = "tandem_csrf";
const CSRF_HEADER = "x-csrf-token";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A readable (not HttpOnly) cookie the page's scripts echo back as `x-csrf-token`. */
export function csrfCookie(deps: WebDeps, token = randomBytes(24).toString("base64url")): string {
  const secure = deps.config.PUBLIC_URL.startsWith("https:") ? "; Secure" : "";
  return `${CSRF_COOKIE}=${token}; Path=/; SameSite=Lax${secure}`;
}

/** Sets the CSRF cookie on a page load when the browser has none yet. */
export function ensureCsrfCookie(deps: WebDeps, req: FastifyRequest, reply: FastifyReply) {
  if (!readCookie(req.headers.cookie, CSRF_COOKIE)) reply.header("set-cookie", csrfCookie(deps));
}

/**
 * Double-submit CSRF check for requests authenticated by the browser cookie. Bearer requests
 * are exempt (a browser never adds that header by itself), as are the provider webhooks (they
 * carry no cookie). Sandbox ports are not on this origin at all (web/src/ports/).
 */
export function csrfProtection(app: FastifyInstance) {
  app.addHook("onRequest", async (req) => {
    if (!UNSAFE.has(req.method)) return;
    if (/^Bearer\s/i.test(req.headers.authorization ?? "")) return;
    if (!readCookie(req.headers.cookie, SESSION_COOKIE)) return;
    const cookie = readCookie(req.headers.cookie, CSRF_COOKIE) ?? "";
    const header = req.headers[CSRF_HEADER];
    const ok =
      typeof header === "string" &&
      cookie.length > 0 &&
      header.length === cookie.length &&
      timingSafeEqual(Buffer.from(header), Buffer.from(cookie));
    if (!ok)
      throw forbidden(
        `cookie-authenticated ${req.method} requests need the ${CSRF_HEADER} header (the ${CSRF_COOKIE} cookie's value)`,
      );
  });
}
