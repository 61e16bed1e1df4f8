import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessionBindings, sessions } from "../db/schema.ts";
import type { Session } from "./service.ts";

export type SessionBinding = typeof sessionBindings.$inferSelect;

/** The session a provider thread (Slack thread, issue, …) continues; null when it starts none yet. */
export async function findBoundSession(
  db: Db,
  provider: string,
  threadKey: string,
): Promise<Session | null> {
  const [row] = await db
    .select({ session: sessions })
    .from(sessionBindings)
    .innerJoin(sessions, eq(sessions.id, sessionBindings.sessionId))
    .where(and(eq(sessionBindings.provider, provider), eq(sessionBindings.threadKey, threadKey)))
    .limit(1);
  return row?.session ?? null;
}

/**
 * Binds a thread to a session, so later replies there continue it (a new session is bound by
 * createSession, in its own transaction). A thread whose session ended
 * may be bound again to a new one: the binding moves.
 */
export async function bindSession(
  db: Db,
  input: { sessionId: string; provider: string; threadKey: string; url?: string },
): Promise<void> {
  await db
    .insert(sessionBindings)
    .values(input)
    .onConflictDoUpdate({
      target: [sessionBindings.provider, sessionBindings.threadKey],
      set: { sessionId: input.sessionId },
    });
}

/** The session's binding to a provider's thread, if it came from there. */
export async function findBinding(
  db: Db,
  sessionId: string,
  provider: string,
): Promise<SessionBinding | null> {
  const row = await db.query.sessionBindings.findFirst({
    where: and(eq(sessionBindings.sessionId, sessionId), eq(sessionBindings.provider, provider)),
  });
  return row ?? null;
}

/**
 * Whether a session is bound to `provider`'s thread, cached for the live-event followers: a
 * binding never goes away, and a session that did not come from the provider never gets one.
 * A session from the provider is bound in the transaction that creates it (createSession); one
 * without a binding yet is still asked again.
 */
export function boundSessionCache(db: Db, provider: string, limit = 10_000) {
  const known = new Map<string, boolean>();
  return async (sessionId: string): Promise<boolean> => {
    const cached = known.get(sessionId);
    if (cached !== undefined) return cached;
    const [row] = await db
      .select({ source: sessions.source, binding: sessionBindings.id })
      .from(sessions)
      .leftJoin(
        sessionBindings,
        and(eq(sessionBindings.sessionId, sessions.id), eq(sessionBindings.provider, provider)),
      )
      .where(eq(sessions.id, sessionId))
      .limit(1);
    if (known.size > limit) known.clear();
    if (row?.binding) known.set(sessionId, true);
    else if (row && row.source !== provider) known.set(sessionId, false);
    return Boolean(row?.binding);
  };
}
