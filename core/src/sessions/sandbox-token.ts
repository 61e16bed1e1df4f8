import { eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessions } from "../db/schema.ts";
import { generateToken, hashToken } from "../auth/tokens.ts";
import { isTerminal } from "./state.ts";
import type { Session } from "./service.ts";

/**
 * The one credential a sandbox holds: it lets the agent reach the model proxy and ask for git
 * credentials, for this session only, and dies when the session ends. A new one replaces the old.
 */
export async function issueSandboxToken(db: Db, sessionId: string): Promise<string> {
  const token = generateToken();
  await db.update(sessions).set({ sandboxTokenHash: hashToken(token) }).where(eq(sessions.id, sessionId));
  return token;
}

/** The live session a sandbox token belongs to; null for unknown tokens and ended sessions. */
export async function sessionForSandboxToken(db: Db, token: string): Promise<Session | null> {
  const session = await db.query.sessions.findFirst({ where: eq(sessions.sandboxTokenHash, hashToken(token)) });
  if (!session || isTerminal(session.status)) return null;
  return session;
}
