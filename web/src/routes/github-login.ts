import { randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { AppError, badRequest, encryptSecret, signInGithubUser } from "@tandem/core";
import { readCookie } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { safeNext } from "../workbench/ui.ts";
import { startBrowserSession } from "./login.ts";

/** Holds `<state>.<next>` between the redirect to GitHub and the callback. */
const STATE_COOKIE = "tandem_github_oauth";
const STATE_TTL_S = 600;
const TIMEOUT_MS = 10_000;

interface GithubUser {
  id: number;
  login: string;
  name: string | null;
  email: string | null;
}
interface GithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

const githubFailed = (what: string, detail: string) =>
  new AppError("github_failed", `GitHub sign-in failed at ${what}: ${detail}`, 502);

/**
 * "Sign in with GitHub" through the GitHub App's OAuth client (GITHUB_CLIENT_ID/SECRET). The
 * person ends up with the same browser session as an owner login link; which orgs they see is
 * decided by memberships only (see signInGithubUser).
 */
export function githubLoginRoutes(app: FastifyInstance, deps: WebDeps) {
  const { GITHUB_CLIENT_ID: clientId, GITHUB_CLIENT_SECRET: clientSecret } = deps.config;
  const enabled = Boolean(clientId && clientSecret);
  app.get("/auth/providers", async () => ({ github: enabled }));
  if (!clientId || !clientSecret) return;

  const web = deps.config.GITHUB_URL.replace(/\/$/, "");
  const api = deps.config.GITHUB_API_URL.replace(/\/$/, "");
  const publicUrl = deps.config.PUBLIC_URL.replace(/\/$/, "");
  const secure = publicUrl.startsWith("https:") ? "; Secure" : "";
  const stateCookie = (value: string, maxAgeS: number) =>
    `${STATE_COOKIE}=${value}; Path=/auth/github; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${secure}`;

  const githubJson = async <T>(what: string, url: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(url, {
      ...init,
      headers: { accept: "application/json", "user-agent": "tandem", ...init.headers },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).catch((err: Error) => {
      throw githubFailed(what, err.message);
    });
    if (!res.ok) throw githubFailed(what, `HTTP ${res.status}`);
    return (await res.json()) as T;
  };

  app.get<{ Querystring: { next?: string } }>("/auth/github", async (req, reply) => {
    const state = randomBytes(24).toString("base64url");
    const next = Buffer.from(safeNext(req.query.next) ?? "/").toString("base64url");
    const authorize = new URL(`${web}/login/oauth/authorize`);
    authorize.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: `${publicUrl}/auth/github/callback`,
      state,
      scope: "read:user user:email",
    }).toString();
    reply.header("set-cookie", stateCookie(`${state}.${next}`, STATE_TTL_S));
    return reply.redirect(authorize.toString(), 302);
  });

  app.get<{ Querystring: { code?: string; state?: string; error?: string } }>(
    "/auth/github/callback",
    async (req, reply) => {
      const [expected = "", nextEncoded = ""] = (
        readCookie(req.headers.cookie, STATE_COOKIE) ?? ""
      ).split(".");
      const state = req.query.state ?? "";
      if (
        !expected ||
        state.length !== expected.length ||
        !timingSafeEqual(Buffer.from(state), Buffer.from(expected))
      ) {
        throw badRequest(
          "the GitHub sign-in state does not match this browser (expired, or started elsewhere); start again from the login page",
        );
      }
      if (req.query.error || !req.query.code)
        throw badRequest(
          `GitHub did not sign you in${req.query.error ? ` (${req.query.error})` : ""}; start again from the login page`,
        );

      const exchanged = await githubJson<{
        access_token?: string;
        error?: string;
        error_description?: string;
      }>("the code exchange", `${web}/login/oauth/access_token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          client_id: clientId,
          client_secret: clientSecret,
          code: req.query.code,
          redirect_uri: `${publicUrl}/auth/github/callback`,
        }),
      });
      if (!exchanged.access_token)
        throw badRequest(
          `GitHub refused the sign-in code (${exchanged.error_description ?? exchanged.error ?? "no token"}); start again from the login page`,
        );
      const auth = { authorization: `Bearer ${exchanged.access_token}` };
      const user = await githubJson<GithubUser>("GET /user", `${api}/user`, { headers: auth });
      // GitHub only lets people make a verified address public; otherwise ask for the primary one.
      let email = user.email;
      if (!email) {
        const emails = await githubJson<GithubEmail[]>("GET /user/emails", `${api}/user/emails`, {
          headers: auth,
        }).catch(() => []);
        email = emails.find((e) => e.primary && e.verified)?.email ?? null;
      }
      const { userId, created, linked } = await signInGithubUser(deps.database.db, {
        githubId: user.id,
        login: user.login,
        name: user.name,
        verifiedEmail: email,
        tokenEncrypted: deps.config.ENCRYPTION_KEY
          ? encryptSecret(deps.config.ENCRYPTION_KEY, exchanged.access_token)
          : null,
      });
      req.log.info({ userId, githubLogin: user.login, created, linked }, "login.github");
      const next = Buffer.from(nextEncoded, "base64url").toString();
      return startBrowserSession(deps, reply, userId, next, [stateCookie("", 0)]);
    },
  );
}
