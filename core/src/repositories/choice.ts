import { and, eq, sql } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { channelDefaults, repositories } from "../db/schema.ts";
import { namedRepositories } from "./named.ts";
import { listRepositories, type Repository } from "./service.ts";

// Which repository a chat request works in (Slack, Discord): the one it names, the channel's
// default, the org's only one; otherwise the person picks from a menu.

export type RepositoryChoice =
  | { kind: "repo"; repo: Repository; via: "text" | "channel" | "only" }
  /** `owner/repo` was named but is not registered; the person picks instead. */
  | { kind: "unknown"; named: string; repos: Repository[] }
  | { kind: "choose"; repos: Repository[] }
  | { kind: "none" };

export async function chooseRepository(
  db: Db,
  input: { provider: string; orgId: string; text: string; channelKey: string },
): Promise<RepositoryChoice> {
  const repos = await listRepositories(db, input.orgId);
  const named = namedRepositories(input.text);
  for (const name of named) {
    const repo = repos.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (repo) return { kind: "repo", repo, via: "text" };
  }
  if (repos.length === 0) return { kind: "none" };
  if (named.length > 0) return { kind: "unknown", named: named[0]!, repos };
  const fallback = await channelDefault(db, input.provider, input.orgId, input.channelKey);
  if (fallback) return { kind: "repo", repo: fallback, via: "channel" };
  if (repos.length === 1) return { kind: "repo", repo: repos[0]!, via: "only" };
  return { kind: "choose", repos };
}

/** The repository a channel's requests work in when they name none. */
export async function channelDefault(
  db: Db,
  provider: string,
  orgId: string,
  channelKey: string,
): Promise<Repository | null> {
  const [row] = await db
    .select({ repo: repositories })
    .from(channelDefaults)
    .innerJoin(repositories, eq(repositories.id, channelDefaults.repositoryId))
    .where(
      and(
        eq(channelDefaults.provider, provider),
        eq(channelDefaults.channelKey, channelKey),
        eq(channelDefaults.orgId, orgId),
      ),
    );
  return row?.repo ?? null;
}

/** Sets (or, with no repository, clears) a channel's default repository. */
export async function setChannelDefault(
  db: Db,
  clock: Clock,
  input: { provider: string; orgId: string; channelKey: string; repo: Repository | null },
) {
  const where = and(
    eq(channelDefaults.provider, input.provider),
    eq(channelDefaults.channelKey, input.channelKey),
  );
  if (!input.repo) return void (await db.delete(channelDefaults).where(where));
  await db
    .insert(channelDefaults)
    .values({
      orgId: input.orgId,
      provider: input.provider,
      channelKey: input.channelKey,
      repositoryId: input.repo.id,
      updatedAt: clock.now(),
    })
    .onConflictDoUpdate({
      target: [channelDefaults.provider, channelDefaults.channelKey],
      set: { orgId: input.orgId, repositoryId: input.repo.id, updatedAt: clock.now() },
    });
}

/**
 * The org's repository a person named in a chat command (`owner/name`, any case, or its GitHub
 * URL); null when it has none by that name.
 */
export async function repositoryNamed(
  db: Db,
  orgId: string,
  said: string,
): Promise<{ name: string; repo: Repository | null }> {
  const name = said
    .trim()
    .replace(/^<?https?:\/\/github\.com\//, "")
    .replace(/(\.git)?\/?>?$/, "")
    .replace(/\|.*$/, "");
  const repo = await db.query.repositories.findFirst({
    where: and(
      eq(repositories.orgId, orgId),
      sql`lower(${repositories.name}) = ${name.toLowerCase()}`,
    ),
  });
  return { name, repo: repo ?? null };
}
