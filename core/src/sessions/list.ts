import { and, desc, eq, ilike, inArray, lt, or, type SQL } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { repositories, sessionEvents, sessions } from "../db/schema.ts";
import type { SessionStatus } from "./state.ts";

/** What a sessions list may be narrowed to; every part is optional and they all apply. */
export interface SessionFilter {
  statuses?: SessionStatus[];
  sources?: string[];
  repository?: string;
  /** Case-insensitive words in the title or the prompt. */
  q?: string;
  /** Only these sessions (a live list reloading the rows that changed). */
  ids?: string[];
}

/** A session's diff against the default branch after its last turn. */
export interface DiffStat {
  files: number;
  additions: number;
  deletions: number;
}

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** The org's sessions matching `filter`, newest first, `before` a creation time for the next page. */
export async function listSessions(
  db: Db,
  orgId: string,
  opts: { limit: number; before?: Date } & SessionFilter,
) {
  if (opts.ids?.length === 0) return [];
  const where: Array<SQL | undefined> = [eq(sessions.orgId, orgId)];
  if (opts.before) where.push(lt(sessions.createdAt, opts.before));
  if (opts.statuses?.length) where.push(inArray(sessions.status, opts.statuses));
  if (opts.sources?.length) where.push(inArray(sessions.source, opts.sources));
  if (opts.repository) where.push(eq(repositories.name, opts.repository));
  if (opts.ids) where.push(inArray(sessions.id, opts.ids));
  if (opts.q)
    where.push(
      or(ilike(sessions.title, likePattern(opts.q)), ilike(sessions.prompt, likePattern(opts.q))),
    );
  return db
    .select({ session: sessions, repository: repositories.name })
    .from(sessions)
    .innerJoin(repositories, eq(repositories.id, sessions.repositoryId))
    .where(and(...where))
    .orderBy(desc(sessions.createdAt))
    .limit(opts.limit);
}

/**
 * Each session's stats from its last `diff_stat` event (the worker records one after every turn);
 * sessions without one are absent.
 */
export async function lastDiffStats(db: Db, sessionIds: string[]): Promise<Map<string, DiffStat>> {
  if (sessionIds.length === 0) return new Map();
  const rows = await db
    .selectDistinctOn([sessionEvents.sessionId], {
      sessionId: sessionEvents.sessionId,
      data: sessionEvents.data,
    })
    .from(sessionEvents)
    .where(and(inArray(sessionEvents.sessionId, sessionIds), eq(sessionEvents.type, "diff_stat")))
    .orderBy(sessionEvents.sessionId, desc(sessionEvents.seq));
  const stats = new Map<string, DiffStat>();
  for (const row of rows) {
    const files = (row.data as { files?: Array<{ added?: number; removed?: number }> }).files ?? [];
    stats.set(row.sessionId, {
      files: files.length,
      additions: files.reduce((n, f) => n + (f.added ?? 0), 0),
      deletions: files.reduce((n, f) => n + (f.removed ?? 0), 0),
    });
  }
  return stats;
}
