import { and, eq, gt, lt } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { sandboxTokens, sessions } from "../db/schema.ts";
import { generateToken, hashToken } from "../auth/tokens.ts";
import { isTerminal } from "./state.ts";
import { DEFAULT_NETWORK_POLICY, type NetworkPolicy } from "../profiles/network.ts";
import type { Session } from "./service.ts";

/**
 * The one credential a sandbox holds: it lets the agent reach the model proxy and ask for git
 * credentials, for this session only, and dies when the session ends. A new one replaces the old.
 */
export async function issueSandboxToken(db: Db, sessionId: string): Promise<string> {
  const token = generateToken();
  await db
    .update(sessions)
    .set({ sandboxTokenHash: hashToken(token) })
    .where(eq(sessions.id, sessionId));
  return token;
}

/** The live session a sandbox token belongs to; null for unknown tokens and ended sessions. */
export async function sessionForSandboxToken(db: Db, token: string): Promise<Session | null> {
  const session = await db.query.sessions.findFirst({
    where: eq(sessions.sandboxTokenHash, hashToken(token)),
  });
  if (!session || isTerminal(session.status)) return null;
  return session;
}

/** A build token lives this long unless revoked first: long enough for a slow setup script. */
const BUILD_TOKEN_TTL_MS = 2 * 60 * 60_000;

/**
 * A token for a sandbox that belongs to no session (a snapshot build, a setup-script test): it
 * may ask the git credential route for the listed repositories of the org, nothing else, until
 * it expires or is revoked. Only its hash is stored. Expired tokens are cleared on the way.
 */
export async function issueBuildToken(
  deps: { db: Db; clock: Clock },
  input: {
    orgId: string;
    repositoryIds: string[];
    purpose: string;
    network: NetworkPolicy;
    label: string;
    ttlMs?: number;
  },
): Promise<string> {
  const now = deps.clock.now();
  await deps.db.delete(sandboxTokens).where(lt(sandboxTokens.expiresAt, now));
  const token = generateToken();
  await deps.db.insert(sandboxTokens).values({
    tokenHash: hashToken(token),
    orgId: input.orgId,
    repositoryIds: input.repositoryIds,
    purpose: input.purpose,
    network: input.network,
    label: input.label,
    expiresAt: new Date(now.getTime() + (input.ttlMs ?? BUILD_TOKEN_TTL_MS)),
  });
  return token;
}

/** Ends a build token at once (the build is over); unknown tokens are ignored. */
export async function revokeBuildToken(db: Db, token: string): Promise<void> {
  await db.delete(sandboxTokens).where(eq(sandboxTokens.tokenHash, hashToken(token)));
}

/** What a sandbox token may reach: a live session's repositories, or a build token's list. */
export interface SandboxGrant {
  orgId: string;
  repositoryIds: string[];
  /** Set for session tokens. */
  sessionId?: string;
  /** "session", or the build token's purpose (e.g. "snapshot"). */
  purpose: string;
  /** A build token's network policy and profile label (a session's come from its profile version). */
  build?: { network: NetworkPolicy; label: string };
}

/** The grant behind a sandbox token; null for unknown, expired or revoked tokens and ended sessions. */
export async function sandboxGrantForToken(
  deps: { db: Db; clock: Clock },
  token: string,
): Promise<SandboxGrant | null> {
  const session = await sessionForSandboxToken(deps.db, token);
  if (session)
    return {
      orgId: session.orgId,
      repositoryIds: [session.repositoryId],
      sessionId: session.id,
      purpose: "session",
    };
  const [row] = await deps.db
    .select()
    .from(sandboxTokens)
    .where(
      and(
        eq(sandboxTokens.tokenHash, hashToken(token)),
        gt(sandboxTokens.expiresAt, deps.clock.now()),
      ),
    );
  return row
    ? {
        orgId: row.orgId,
        repositoryIds: row.repositoryIds,
        purpose: row.purpose,
        build: {
          network: row.network ?? DEFAULT_NETWORK_POLICY,
          label: row.label ?? `the ${row.purpose} sandbox`,
        },
      }
    : null;
}
