import type { FastifyInstance } from "fastify";
import type { WebDeps } from "./deps.ts";

/**
 * Tandem's pages run only their own scripts, talk only to Tandem (HTTP and the terminals'
 * WebSockets), and are never framed. Inline styles stay allowed: xterm.js and the diff view set them.
 */
function contentSecurityPolicy(publicUrl: string): string {
  const url = new URL(publicUrl);
  const ws = `${url.protocol === "https:" ? "wss:" : "ws:"}//${url.host}`;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self' ${ws}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/** On every answer of Tandem's origin: cheap, and an API answer opened as a page is covered too. */
export function securityHeaders(app: FastifyInstance, deps: WebDeps) {
  const csp = contentSecurityPolicy(deps.config.PUBLIC_URL);
  app.addHook("onSend", async (_req, reply, payload) => {
    reply
      .header("content-security-policy", csp)
      .header("x-frame-options", "DENY")
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", reply.getHeader("referrer-policy") ?? "same-origin");
    return payload;
  });
}
