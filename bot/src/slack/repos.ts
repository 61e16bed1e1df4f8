import { and, eq, lt } from "drizzle-orm";
import {
  listRepositories,
  namedRepositories,
  schema,
  type Clock,
  type Db,
  type Repository,
} from "@tandem/core";
import { PICKER_TTL_MS, PROVIDER } from "./config.ts";

/** Which repository a request is about, in the order a person would expect. */
export type RepositoryChoice =
  | { kind: "repo"; repo: Repository; via: "text" | "channel" | "only" }
  /** `owner/repo` was named but is not registered; the person picks instead. */
  | { kind: "unknown"; named: string; repos: Repository[] }
  | { kind: "choose"; repos: Repository[] }
  | { kind: "none" };

export async function chooseRepository(
  db: Db,
  input: { orgId: string; text: string; channelKey: string },
): Promise<RepositoryChoice> {
  const repos = await listRepositories(db, input.orgId);
  const named = namedRepositories(input.text);
  for (const name of named) {
    const repo = repos.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (repo) return { kind: "repo", repo, via: "text" };
  }
  if (repos.length === 0) return { kind: "none" };
  if (named.length > 0) return { kind: "unknown", named: named[0]!, repos };
  const fallback = await channelDefault(db, input.orgId, input.channelKey);
  if (fallback) return { kind: "repo", repo: fallback, via: "channel" };
  if (repos.length === 1) return { kind: "repo", repo: repos[0]!, via: "only" };
  return { kind: "choose", repos };
}

export async function channelDefault(
  db: Db,
  orgId: string,
  channelKey: string,
): Promise<Repository | null> {
  const [row] = await db
    .select({ repo: schema.repositories })
    .from(schema.channelDefaults)
    .innerJoin(schema.repositories, eq(schema.repositories.id, schema.channelDefaults.repositoryId))
    .where(
      and(
        eq(schema.channelDefaults.provider, PROVIDER),
        eq(schema.channelDefaults.channelKey, channelKey),
        eq(schema.channelDefaults.orgId, orgId),
      ),
    );
  return row?.repo ?? null;
}

export async function setChannelDefault(
  db: Db,
  clock: Clock,
  input: { orgId: string; channelKey: string; repo: Repository | null },
) {
  const where = and(
    eq(schema.channelDefaults.provider, PROVIDER),
    eq(schema.channelDefaults.channelKey, input.channelKey),
  );
  if (!input.repo) return void (await db.delete(schema.channelDefaults).where(where));
  await db
    .insert(schema.channelDefaults)
    .values({
      orgId: input.orgId,
      provider: PROVIDER,
      channelKey: input.channelKey,
      repositoryId: input.repo.id,
      updatedAt: clock.now(),
    })
    .onConflictDoUpdate({
      target: [schema.channelDefaults.provider, schema.channelDefaults.channelKey],
      set: { orgId: input.orgId, repositoryId: input.repo.id, updatedAt: clock.now() },
    });
}

/** What starting a session needs once someone has picked the repository. */
export interface PendingStart {
  teamId: string;
  channel: string;
  threadTs: string;
  prompt: string;
  user: string;
  /** The profile the request named, if any. */
  profile?: string;
}

export async function savePendingStart(
  db: Db,
  clock: Clock,
  orgId: string,
  threadKey: string,
  start: PendingStart,
) {
  const now = clock.now();
  const [row] = await db
    .insert(schema.pendingRequests)
    .values({
      orgId,
      provider: PROVIDER,
      threadKey,
      payload: start,
      createdAt: now,
      expiresAt: new Date(now.getTime() + PICKER_TTL_MS),
    })
    .returning();
  // Expired requests are only read to say so; clear them out while we are here.
  await db
    .delete(schema.pendingRequests)
    .where(lt(schema.pendingRequests.expiresAt, new Date(now.getTime() - PICKER_TTL_MS)));
  return row!;
}

/**
 * Takes a pending start (once: a double click starts one session). "expired" when it is past its
 * hour, "gone" when unknown or already taken.
 */
export async function takePendingStart(
  db: Db,
  clock: Clock,
  orgId: string,
  id: string,
): Promise<PendingStart | "expired" | "gone"> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return "gone";
  const [row] = await db
    .delete(schema.pendingRequests)
    .where(
      and(
        eq(schema.pendingRequests.id, id),
        eq(schema.pendingRequests.orgId, orgId),
        eq(schema.pendingRequests.provider, PROVIDER),
      ),
    )
    .returning();
  if (!row) return "gone";
  return row.expiresAt > clock.now() ? (row.payload as PendingStart) : "expired";
}
