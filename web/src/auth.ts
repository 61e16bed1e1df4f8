import type { FastifyRequest } from "fastify";
import { authenticate, resolveActor, unauthorized, type Actor } from "@tandem/core";
import type { WebDeps } from "./deps.ts";

export const SESSION_COOKIE = "tandem_session";

declare module "fastify" {
  interface FastifyRequest {
    userId?: string;
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

/** The caller's user id from `Authorization: Bearer …` or the browser session cookie; 401 otherwise. */
export async function requireUser(deps: WebDeps, req: FastifyRequest): Promise<string> {
  if (req.userId) return req.userId;
  const header = req.headers.authorization;
  const bearer = header?.match(/^Bearer\s+(\S+)$/i)?.[1];
  const token = bearer ?? readCookie(req.headers.cookie, SESSION_COOKIE);
  if (!token) throw unauthorized();
  const user = await authenticate(deps.database.db, deps.clock, token, deps.config.ADMIN_TOKEN);
  if (!user) throw unauthorized();
  req.userId = user.userId;
  return user.userId;
}

/** The user and the org the request acts in (`X-Tandem-Org`, or the user's first org). */
export async function requireActor(
  deps: WebDeps,
  req: FastifyRequest,
  orgId?: string,
): Promise<Actor> {
  const userId = await requireUser(deps, req);
  const header = req.headers["x-tandem-org"];
  return resolveActor(
    deps.database.db,
    userId,
    orgId ?? (typeof header === "string" ? header : undefined),
  );
}
