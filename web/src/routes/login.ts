import type { FastifyInstance, FastifyReply } from "fastify";
import { BROWSER_SESSION_TTL_MS, consumeLoginToken, issueToken } from "@tandem/core";
import { SESSION_COOKIE } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { csrfCookie } from "../workbench/csrf.ts";
import { safeNext, sendErrorPage } from "../workbench/ui.ts";

/** Signs the browser in as `userId` (session + CSRF cookies) and sends it on to `next`. */
export async function startBrowserSession(
  deps: WebDeps,
  reply: FastifyReply,
  userId: string,
  next: unknown,
  extraCookies: string[] = [],
) {
  const { token } = await issueToken(deps.database.db, deps.clock, {
    userId,
    kind: "browser",
    ttlMs: BROWSER_SESSION_TTL_MS,
  });
  const secure = deps.config.PUBLIC_URL.startsWith("https:") ? "; Secure" : "";
  reply.header("set-cookie", [
    `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${BROWSER_SESSION_TTL_MS / 1000}${secure}`,
    csrfCookie(deps),
    ...extraCookies,
  ]);
  return reply.redirect(safeNext(next) ?? "/", 303);
}

/** One-time login links (printed by `npm start`, returned when a member is added) become a browser session. */
export function loginRoutes(app: FastifyInstance, deps: WebDeps) {
  app.get<{ Params: { token: string }; Querystring: { next?: string } }>(
    "/login/:token",
    async (req, reply) => {
      const login = await consumeLoginToken(deps.database.db, deps.clock, req.params.token);
      if (!login) {
        return sendErrorPage(reply, 401, {
          title: "This link no longer works",
          message: "This login link was already used or has expired. Ask an admin for a new one.",
          testid: "login-expired",
        });
      }
      return startBrowserSession(deps, reply, login.userId, req.query.next);
    },
  );
}
