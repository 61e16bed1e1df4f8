import { lastDiffStats, sessionTitle, sessionUrl, type DiffStat, type Session } from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { sessionDetails, type SessionCreator, type SessionOrigin } from "./session-origin.ts";

/** How the API shows sessions: the list's rows, the one session's page, the live list's updates. */
export function sessionViews(deps: WebDeps) {
  const { db } = deps.database;
  return async (rows: Array<{ session: Session; repository: string }>) => {
    const list = rows.map((r) => r.session);
    const d = await sessionDetails(db, deps.providers, list);
    const stats = await lastDiffStats(
      db,
      list.map((s) => s.id),
    );
    return rows.map(({ session: s, repository }) => ({
      id: s.id,
      status: s.status,
      /** The title a person gave it, or else the first line of its task. */
      title: sessionTitle(s),
      repository,
      url: sessionUrl(deps.config.PUBLIC_URL, s.id),
      prompt: s.prompt,
      source: s.source,
      /** The thread the session came from (Slack, GitHub), when there is one. */
      origin: (d.origins.get(s.id) ?? null) satisfies SessionOrigin | null,
      createdBy: (s.createdBy
        ? (d.creators.get(s.createdBy) ?? null)
        : null) satisfies SessionCreator | null,
      agent: s.agent,
      usage: { inputTokens: s.inputTokens, outputTokens: s.outputTokens },
      ref: s.baseRef,
      branch: s.branch,
      pullRequestUrl: s.pullRequestUrl,
      /** Against the default branch after the last turn; null before the first one ends. */
      diffStat: (stats.get(s.id) ?? null) satisfies DiffStat | null,
      error: s.error,
      createdAt: s.createdAt.toISOString(),
      updatedAt: s.updatedAt.toISOString(),
      endedAt: s.endedAt?.toISOString() ?? null,
    }));
  };
}
