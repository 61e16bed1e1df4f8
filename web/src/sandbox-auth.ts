import type { FastifyRequest } from "fastify";
import {
  sandboxGrantForToken,
  sessionForSandboxToken,
  unauthorized,
  type SandboxGrant,
  type Session,
} from "@tandem/core";
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

/** Git sends the sandbox token as a Basic password (the credential helper's answer). */
const basicPassword = (req: FastifyRequest) => {
  const encoded = req.headers.authorization?.match(/^Basic\s+(\S+)$/i)?.[1];
  if (!encoded) return undefined;
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const at = decoded.indexOf(":");
  return at >= 0 && decoded.length > at + 1 ? decoded.slice(at + 1) : undefined;
};

/**
 * What the request's sandbox token (Bearer, or a Basic password) may reach: a live session's
 * repositories, or those of a build token (snapshot builds, setup-script tests) until it expires
 * or is revoked; null otherwise.
 */
export async function sandboxGrant(
  deps: WebDeps,
  req: FastifyRequest,
): Promise<SandboxGrant | null> {
  const token = bearer(req) ?? basicPassword(req);
  return token ? sandboxGrantForToken({ db: deps.database.db, clock: deps.clock }, token) : null;
}
