import { inArray } from "drizzle-orm";
import { schema, type Db } from "@tandem/core";

export interface SessionOrigin {
  provider: string;
  url: string;
}
export interface SessionCreator {
  name: string;
  login: string | null;
}

/**
 * A link back to the thread a session came from, built from its binding alone (no provider call):
 * GitHub's issue URL also reaches a pull request; Slack's app_redirect opens the thread's message.
 */
export function originUrl(githubUrl: string, provider: string, threadKey: string): string | null {
  if (provider === "github") {
    const m = threadKey.match(/^([\w.-]+\/[\w.-]+)#(\d+)$/);
    return m ? `${githubUrl.replace(/\/$/, "")}/${m[1]}/issues/${m[2]}` : null;
  }
  if (provider === "slack") {
    const [team, channel, ts, ...rest] = threadKey.split(":");
    if (!team || !channel || !ts || rest.length) return null;
    const q = new URLSearchParams({ team, channel, message_ts: ts });
    return `https://slack.com/app_redirect?${q}`;
  }
  return null;
}

/** Origins and creators of a page of sessions, in two queries. */
export async function sessionDetails(
  db: Db,
  githubUrl: string,
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
    const url = originUrl(githubUrl, b.provider, b.threadKey);
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
