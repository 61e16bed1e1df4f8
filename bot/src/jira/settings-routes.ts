import type { FastifyInstance, FastifyRequest } from "fastify";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { badRequest, notFound, schema, type Db, type Logger } from "@tandem/core";
import { jiraCall, type JiraSite, type SiteData } from "./client.ts";
import type { JiraSettings } from "./config.ts";

export interface JiraSettingsRouteOptions {
  settings: JiraSettings;
  db: Db;
  logger: Logger;
  site: JiraSite;
  adminOrg(req: FastifyRequest): Promise<string>;
}

interface JiraProject {
  key: string;
  name: string;
}

/**
 * The Jira part of Settings, for the owners and admins of the org the site is bound to: the site,
 * the agent's account, the webhook to register, and each project's default repository.
 */
export function jiraSettingsRoutes(app: FastifyInstance, opts: JiraSettingsRouteOptions) {
  /** The site's installation row when it belongs to the caller's org. */
  const ownRow = async (req: FastifyRequest) => {
    const orgId = await opts.adminOrg(req);
    const row = await opts.site.installation();
    return row.orgId === orgId ? row : null;
  };

  app.get("/api/jira", async (req) => {
    const row = await ownRow(req);
    if (!row) return { site: null, projects: [] };
    const data = row.data as SiteData;
    let agent: { accountId: string; displayName: string } | null = null;
    let projects: Array<JiraProject & { repository: string | null }> = [];
    let problem: string | null = null;
    try {
      agent = await opts.site.agent();
      const listed = (await jiraCall(() => opts.site.api.listProjects())) as JiraProject[];
      projects = listed.map((p) => ({
        key: p.key,
        name: p.name,
        repository: data.projectRepositories?.[p.key] ?? null,
      }));
    } catch (err) {
      problem = `Jira did not answer as the agent: ${(err as Error).message}`;
      opts.logger.warn({ err }, "jira.settings_failed");
    }
    return {
      site: {
        url: opts.settings.baseUrl,
        agent,
        webhookUrl: `${opts.settings.publicUrl}/hooks/jira`,
        triggerLabel: opts.settings.triggerLabel,
        moveToInProgress: opts.settings.moveToInProgress,
        problem,
      },
      projects,
    };
  });

  /** Sets (or clears, with null) the repository a project's issues work in when none is named. */
  app.put("/api/jira/projects/:key", async (req) => {
    const row = await ownRow(req);
    if (!row) throw notFound("Jira site");
    const { key } = req.params as { key: string };
    const body = z
      .object({ repository: z.string().min(1).nullable() })
      .strict()
      .safeParse(req.body);
    if (!body.success) throw badRequest('expected {"repository": "owner/name"} (or null for none)');
    const { repository } = body.data;
    if (repository) {
      const repo = await opts.db.query.repositories.findFirst({
        where: and(
          eq(schema.repositories.orgId, row.orgId),
          eq(schema.repositories.name, repository),
        ),
      });
      if (!repo) throw badRequest(`this organization has no repository ${repository}`);
    }
    const data = row.data as SiteData;
    const defaults = { ...data.projectRepositories };
    if (repository) defaults[key] = repository;
    else delete defaults[key];
    await opts.db
      .update(schema.installations)
      .set({ data: { ...data, projectRepositories: defaults } })
      .where(eq(schema.installations.id, row.id));
    return { key, repository };
  });
}
