import { inArray } from "drizzle-orm";
import { providerNamed, schema, type ChatProvider, type Db } from "@tandem/core";

export interface SessionOrigin {
  provider: string;
  url: string;
}
export interface SessionCreator {
  name: string;
  login: string | null;
}

/**
 * Origins and creators of a page of sessions, in two queries. A session's origin is the link
 * back to the thread it came from, which its provider builds from the binding alone (no call).
 */
export async function sessionDetails(
  db: Db,
  providers: readonly ChatProvider[],
  list: Array<{ id: string; createdBy: string | null }>,
) {
  const origins = new Map<string, SessionOrigin>();
  const creators = new Map<string, SessionCreator>();
  if (!list.length) return { origins, creators };
  const bindings = await db
    .select()
    .from(schema.sessionBindings)
    .where(
      inArray(
        schema.sessionBindings.sessionId,
        list.map((s) => s.id),
      ),
    )
    .orderBy(schema.sessionBindings.createdAt);
  for (const b of bindings) {
    const url = b.url ?? providerNamed(providers, b.provider)?.originUrl?.(b.threadKey);
    if (url && !origins.has(b.sessionId)) origins.set(b.sessionId, { provider: b.provider, url });
  }
  const userIds = [...new Set(list.map((s) => s.createdBy).filter((u): u is string => u !== null))];
  if (userIds.length) {
    const users = await db
      .select({ id: schema.users.id, name: schema.users.name, login: schema.users.githubLogin })
      .from(schema.users)
      .where(inArray(schema.users.id, userIds));
    for (const u of users) creators.set(u.id, { name: u.name, login: u.login });
  }
  return { origins, creators };
}
