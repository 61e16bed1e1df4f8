import { and, eq, lt } from "drizzle-orm";
import {
  listRepositories,
  namedRepositories,
  schema,
  type Clock,
  type Db,
  type Repository,
} from "@tandem/core";
import type { SiteData } from "./client.ts";
import { PROVIDER } from "./config.ts";
import type { JiraIssue } from "./trigger-source.ts";

// Which repository a Jira request works in: named in the text, the one the issue's last session
// used, the project's default (Settings), the org's only one; otherwise Tandem asks in a comment.

export type RepositoryChoice =
  | { repo: Repository }
  /** None could be chosen: these are the org's repositories to ask about (none: the org has none). */
  | { ask: Repository[]; unknown?: string };

export async function chooseRepository(
  db: Db,
  input: {
    orgId: string;
    texts: string[];
    issue: JiraIssue;
    site: SiteData;
    /** The repository of the session this issue had before, if any. */
    previous: string | null;
  },
): Promise<RepositoryChoice> {
  const repos = await listRepositories(db, input.orgId);
  const named = namedRepositories(...input.texts).map((n) => n.toLowerCase());
  const hit = repos.find((r) => named.includes(r.name.toLowerCase()));
  if (hit) return { repo: hit };
  const byId = (id: string | null | undefined) => repos.find((r) => r.id === id);
  const byName = (name: string | undefined) => repos.find((r) => r.name === name);
  const fallback =
    byId(input.previous) ??
    byName(
      input.issue.projectKey ? input.site.projectRepositories?.[input.issue.projectKey] : "",
    ) ??
    (repos.length === 1 ? repos[0] : undefined);
  if (fallback) return { repo: fallback };
  return { ask: repos, ...(named[0] ? { unknown: named[0] } : {}) };
}

/** The org's repository a reply names, for the question Tandem asked: nothing else counts as an answer. */
export async function namedRepository(
  db: Db,
  orgId: string,
  text: string,
): Promise<{ repo: Repository } | { ask: Repository[]; unknown?: string }> {
  const repos = await listRepositories(db, orgId);
  const named = namedRepositories(text);
  const hit = repos.find((r) => named.some((n) => n.toLowerCase() === r.name.toLowerCase()));
  return hit ? { repo: hit } : { ask: repos, ...(named[0] ? { unknown: named[0] } : {}) };
}

/** How long Tandem waits for the answer to "which repository". */
const QUESTION_TTL_MS = 7 * 24 * 60 * 60_000;

/** A request waiting for its repository: what starting it needs. */
export interface PendingStart {
  issue: JiraIssue;
  /** The person's words (a comment), or null when the issue was handed over (assigned, labelled). */
  ask: { text: string; by: string } | null;
  requester: string | null;
}

/** Keeps the request until someone names the repository (a newer one on the issue replaces it). */
export async function savePending(
  db: Db,
  clock: Clock,
  orgId: string,
  threadKey: string,
  start: PendingStart,
) {
  const now = clock.now();
  await db.transaction(async (tx) => {
    await tx
      .delete(schema.pendingRequests)
      .where(
        and(
          eq(schema.pendingRequests.provider, PROVIDER),
          eq(schema.pendingRequests.threadKey, threadKey),
        ),
      );
    await tx.insert(schema.pendingRequests).values({
      orgId,
      provider: PROVIDER,
      threadKey,
      payload: start,
      createdAt: now,
      expiresAt: new Date(now.getTime() + QUESTION_TTL_MS),
    });
    await tx
      .delete(schema.pendingRequests)
      .where(
        and(
          eq(schema.pendingRequests.provider, PROVIDER),
          lt(schema.pendingRequests.expiresAt, now),
        ),
      );
  });
}

/** The request waiting on this issue, if any (not taken). */
export async function findPending(db: Db, clock: Clock, threadKey: string) {
  const row = await db.query.pendingRequests.findFirst({
    where: and(
      eq(schema.pendingRequests.provider, PROVIDER),
      eq(schema.pendingRequests.threadKey, threadKey),
    ),
  });
  return row && row.expiresAt > clock.now() ? row : null;
}

/** Takes the waiting request (once: two answers start one session). */
export async function takePending(db: Db, id: string): Promise<PendingStart | null> {
  const [row] = await db
    .delete(schema.pendingRequests)
    .where(eq(schema.pendingRequests.id, id))
    .returning();
  return row ? (row.payload as PendingStart) : null;
}
