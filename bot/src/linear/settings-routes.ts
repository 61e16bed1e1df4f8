import type { FastifyInstance, FastifyRequest } from "fastify";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { badRequest, notFound, schema, type Db, type Logger } from "@tandem/core";
import { linearCall, type LinearWorkspaces } from "./client.ts";
import { PROVIDER, type LinearSettings } from "./config.ts";

/** What a workspace's installation row keeps besides its token. */
export interface WorkspaceData {
  name?: string;
  urlKey?: string;
  appUserId?: string;
  apiKey?: boolean;
  /** Linear team id → the repository its issues work in when none is named. */
  teamRepositories?: Record<string, string>;
  /** Linear project id → the same, for a project's issues (it wins over the team's). */
  projectRepositories?: Record<string, string>;
}

export interface LinearSettingsRouteOptions {
  settings: LinearSettings;
  db: Db;
  logger: Logger;
  workspaces: LinearWorkspaces;
  adminOrg(req: FastifyRequest): Promise<string>;
}

/**
 * The Linear part of Settings, for an org's owners and admins: its connected workspaces (with how
 * they are connected and the install link), each workspace's teams and projects from Linear, and
 * the repository each one's issues work in when none is named.
 */
export function linearSettingsRoutes(app: FastifyInstance, opts: LinearSettingsRouteOptions) {
  const workspacesOf = (orgId: string) =>
    opts.db.query.installations.findMany({
      where: and(
        eq(schema.installations.provider, PROVIDER),
        eq(schema.installations.orgId, orgId),
      ),
      orderBy: schema.installations.createdAt,
    });

  app.get("/api/linear", async (req) => {
    const orgId = await opts.adminOrg(req);
    const rows = await workspacesOf(orgId);
    const workspaces = await Promise.all(
      rows.map(async (row) => {
        const data = row.data as WorkspaceData;
        let teams: Array<{ id: string; key: string; name: string; repository: string | null }> = [];
        let projects: Array<{ id: string; name: string; repository: string | null }> = [];
        let problem: string | null = null;
        try {
          const client = await opts.workspaces.client({ workspaceId: row.externalId });
          // A key's workspace was recorded from a webhook, by id: its name is asked once.
          if (!data.name) {
            const org = await linearCall(async () => client.organization);
            Object.assign(data, { name: org.name, urlKey: org.urlKey });
            await opts.db
              .update(schema.installations)
              .set({ data })
              .where(eq(schema.installations.id, row.id));
          }
          const found = await linearCall(() => client.teams({ first: 100 }));
          teams = found.nodes.map((t) => ({
            id: t.id,
            key: t.key,
            name: t.name,
            repository: data.teamRepositories?.[t.id] ?? null,
          }));
          const listed = await linearCall(() => client.projects({ first: 100 }));
          projects = listed.nodes.map((p) => ({
            id: p.id,
            name: p.name,
            repository: data.projectRepositories?.[p.id] ?? null,
          }));
        } catch (err) {
          problem = `Linear did not list the teams and projects: ${(err as Error).message}`;
          opts.logger.warn({ err, workspaceId: row.externalId }, "linear.teams_failed");
        }
        return {
          id: row.externalId,
          name: data.name ?? null,
          urlKey: data.urlKey ?? null,
          connectedWith: row.credentialsEncrypted ? "oauth" : "api key",
          teams,
          projects,
          problem,
        };
      }),
    );
    return { installUrl: opts.settings.oauth ? "/linear/install" : null, workspaces };
  });

  /** Sets (or clears, with null) the default repository of a team's or a project's issues. */
  const setDefault =
    (kind: "teamRepositories" | "projectRepositories") => async (req: FastifyRequest) => {
      const orgId = await opts.adminOrg(req);
      const { workspaceId, id } = req.params as { workspaceId: string; id: string };
      const body = z
        .object({ repository: z.string().min(1).nullable() })
        .strict()
        .safeParse(req.body);
      if (!body.success)
        throw badRequest('expected {"repository": "owner/name"} (or null for none)');
      const row = (await workspacesOf(orgId)).find((r) => r.externalId === workspaceId);
      if (!row) throw notFound("Linear workspace");
      const { repository } = body.data;
      if (repository) {
        const repo = await opts.db.query.repositories.findFirst({
          where: and(
            eq(schema.repositories.orgId, orgId),
            eq(schema.repositories.name, repository),
          ),
        });
        if (!repo) throw badRequest(`this organization has no repository ${repository}`);
      }
      const data = row.data as WorkspaceData;
      const defaults = { ...data[kind] };
      if (repository) defaults[id] = repository;
      else delete defaults[id];
      await opts.db
        .update(schema.installations)
        .set({ data: { ...data, [kind]: defaults } })
        .where(eq(schema.installations.id, row.id));
      return { id, repository };
    };
  app.put("/api/linear/workspaces/:workspaceId/teams/:id", setDefault("teamRepositories"));
  app.put("/api/linear/workspaces/:workspaceId/projects/:id", setDefault("projectRepositories"));
}
