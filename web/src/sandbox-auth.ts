import type { FastifyRequest } from "fastify";
import { sandboxGrantForToken, sessionForSandboxToken, unauthorized, type SandboxGrant, type Session } from "@tandem/core";
import type { WebDeps } from "./deps.ts";

const bearer = (req: FastifyRequest) => req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
/** Anthropic-style clients (Claude Code with ANTHROPIC_API_KEY) send their key here instead. */
const apiKey = (req: FastifyRequest) => {
  const value = req.headers["x-api-key"];
  return typeof value === "string" && value ? value : undefined;
};

/**
 * The live session behind `Authorization: Bearer <sandbox token>` (or `x-api-key: <sandbox
 * token>`); 401 otherwise. User tokens never pass: sandbox tokens are looked up on the session
 * rows only.
 */
export async function requireSandboxSession(deps: WebDeps, req: FastifyRequest): Promise<Session> {
  const token = bearer(req) ?? apiKey(req);
  const session = token ? await sessionForSandboxToken(deps.database.db, token) : null;
  if (!session) throw unauthorized("sandbox token unknown, or its session has ended");
  return session;
}

/**
 * What a sandbox token may reach: a live session's repositories, or those of a build token
 * (snapshot builds, setup-script tests) until it expires or is revoked; 401 otherwise.
 */
export async function requireSandboxGrant(deps: WebDeps, req: FastifyRequest): Promise<SandboxGrant> {
  const token = bearer(req);
  const grant = token ? await sandboxGrantForToken({ db: deps.database.db, clock: deps.clock }, token) : null;
  if (!grant) throw unauthorized("sandbox token unknown, expired or revoked, or its session has ended");
  return grant;
}
