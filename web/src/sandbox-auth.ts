import type { FastifyRequest } from "fastify";
import { sessionForSandboxToken, unauthorized, type Session } from "@tandem/core";
import type { WebDeps } from "./deps.ts";

/**
 * The live session behind `Authorization: Bearer <sandbox token>`; 401 otherwise. User tokens
 * never pass: sandbox tokens are looked up on the session rows only.
 */
export async function requireSandboxSession(deps: WebDeps, req: FastifyRequest): Promise<Session> {
  const token = req.headers.authorization?.match(/^Bearer\s+(\S+)$/i)?.[1];
  const session = token ? await sessionForSandboxToken(deps.database.db, token) : null;
  if (!session) throw unauthorized("sandbox token unknown, or its session has ended");
  return session;
}
