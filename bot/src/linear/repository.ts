import { and, desc, eq, sql } from "drizzle-orm";
import { namedRepositories, schema, type Db, type Logger, type Repository } from "@tandem/core";
import { linearCall } from "./client.ts";
import { PROVIDER } from "./config.ts";
import type { LinearRouterDeps } from "./router.ts";
import type { WorkspaceData } from "./settings-routes.ts";
import type { LinearTrigger } from "./trigger-source.ts";

type Start = Extract<LinearTrigger, { type: "start" }>;

// Which repository a Linear request works in: named, remembered for the issue, the project's or
// team's default, the org's only one, Linear's clear suggestion, or (none of these) ask.

/** The org's repository this request names, the only one it has, or the candidates to ask about. */
export async function chooseRepository(
  db: Db,
  orgId: string,
  texts: string[],
  issueId: string | undefined,
  pick: boolean,
  defaults: { project?: string; team?: string },
  suggest?: (repos: Repository[], issueId: string) => Promise<Repository | null>,
): Promise<{ repo: Repository } | { ask: string[] }> {
  const all = await db.query.repositories.findMany({
    where: eq(schema.repositories.orgId, orgId),
    orderBy: schema.repositories.name,
  });
  const named = namedRepositories(...texts).map((n) => n.toLowerCase());
  const hit = all.find((r) => named.includes(r.name.toLowerCase()));
  if (hit) return { repo: hit };
  // An answer to "which repository" names one of them, or is asked again.
  if (pick) return { ask: all.map((r) => r.name) };
  const remembered = issueId ? await repositoryOfIssue(db, orgId, issueId) : null;
  if (remembered) return { repo: remembered };
  const byDefault =
    all.find((r) => r.name === defaults.project) ?? all.find((r) => r.name === defaults.team);
  if (byDefault) return { repo: byDefault };
  if (all.length === 1) return { repo: all[0]! };
  const suggested = issueId && suggest ? await suggest(all, issueId) : null;
  if (suggested) return { repo: suggested };
  return { ask: all.map((r) => r.name) };
}

/** Linear's own guess is taken when one repository is clearly ahead: this sure, and this far ahead. */
const SUGGESTION_CONFIDENCE = 0.8;
const SUGGESTION_LEAD = 0.2;

/** Linear's `issueRepositorySuggestions` over the org's repositories; null unless one is clearly ahead. */
export function suggester(
  deps: LinearRouterDeps,
  workspaceId: string,
  agentSessionId: string,
  log: Logger,
) {
  return async (repos: Repository[], issueId: string): Promise<Repository | null> => {
    try {
      const client = await deps.workspaces.client({ workspaceId });
      const hostOf = (r: Repository) => {
        try {
          return new URL(r.cloneUrl).hostname;
        } catch {
          return "github.com";
        }
      };
      const { suggestions } = await linearCall(() =>
        client.issueRepositorySuggestions(
          repos.map((r) => ({ hostname: hostOf(r), repositoryFullName: r.name })),
          issueId,
          { agentSessionId },
        ),
      );
      const [first, second] = [...suggestions].sort((a, b) => b.confidence - a.confidence);
      if (!first || first.confidence < SUGGESTION_CONFIDENCE) return null;
      if (second && first.confidence - second.confidence < SUGGESTION_LEAD) return null;
      const repo = repos.find(
        (r) => r.name.toLowerCase() === first.repositoryFullName.toLowerCase(),
      );
      if (repo)
        log.info(
          { repository: repo.name, confidence: first.confidence },
          "linear.suggested_repository",
        );
      return repo ?? null;
    } catch (err) {
      // A guess, not a requirement: without it, Tandem asks.
      log.warn({ err }, "linear.suggestions_failed");
      return null;
    }
  };
}

/**
 * The repositories the issue's project and team work in when none is named (Settings). The
 * project is asked of Linear (webhooks do not carry it), and only when some project has one.
 */
export async function defaultRepositories(
  deps: LinearRouterDeps,
  workspaceId: string,
  issue: Start["issue"],
  log: Logger,
): Promise<{ project?: string; team?: string }> {
  if (!issue) return {};
  const row = await deps.db.query.installations.findFirst({
    where: and(
      eq(schema.installations.provider, PROVIDER),
      eq(schema.installations.externalId, workspaceId),
    ),
  });
  const data = (row?.data ?? {}) as WorkspaceData;
  const teamId = issue.teamId ?? issue.team?.id;
  let project: string | undefined;
  if (Object.keys(data.projectRepositories ?? {}).length) {
    try {
      const client = await deps.workspaces.client({ workspaceId });
      const projectId = (await linearCall(() => client.issue(issue.id))).projectId;
      project = projectId ? data.projectRepositories?.[projectId] : undefined;
    } catch (err) {
      log.warn({ err }, "linear.project_lookup_failed");
    }
  }
  return { project, team: teamId ? data.teamRepositories?.[teamId] : undefined };
}

/** The repository the issue's latest Tandem session worked in: the choice is kept for the issue. */
async function repositoryOfIssue(db: Db, orgId: string, issueId: string) {
  const p = schema.inboundEvents.payload;
  const [row] = await db
    .select({ repository: schema.repositories })
    .from(schema.inboundEvents)
    .innerJoin(
      schema.sessionBindings,
      and(
        eq(schema.sessionBindings.provider, PROVIDER),
        eq(schema.sessionBindings.threadKey, sql`${p}->'agentSession'->>'id'`),
      ),
    )
    .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
    .innerJoin(schema.repositories, eq(schema.repositories.id, schema.sessions.repositoryId))
    .where(
      and(
        eq(schema.inboundEvents.provider, PROVIDER),
        sql`${p}->>'action' = 'created'`,
        sql`${p}->'agentSession'->'issue'->>'id' = ${issueId}`,
        eq(schema.sessions.orgId, orgId),
      ),
    )
    .orderBy(desc(schema.sessions.createdAt))
    .limit(1);
  return row?.repository ?? null;
}
