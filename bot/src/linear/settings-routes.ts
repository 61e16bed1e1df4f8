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
 * they are connected and the install link), each workspace's teams from Linear, and the
 * repository each team's issues work in when none is named.
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
        } catch (err) {
          problem = `Linear did not list the teams: ${(err as Error).message}`;
          opts.logger.warn({ err, workspaceId: row.externalId }, "linear.teams_failed");
        }
        return {
          id: row.externalId,
          name: data.name ?? null,
          urlKey: data.urlKey ?? null,
          connectedWith: row.credentialsEncrypted ? "oauth" : "api key",
          teams,
          problem,
        };
      }),
    );
    return { installUrl: opts.settings.oauth ? "/linear/install" : null, workspaces };
  });

  app.put("/api/linear/workspaces/:workspaceId/teams/:teamId", async (req) => {
    const orgId = await opts.adminOrg(req);
    const { workspaceId, teamId } = req.params as { workspaceId: string; teamId: string };
    const body = z
      .object({ repository: z.string().min(1).nullable() })
      .strict()
      .safeParse(req.body);
    if (!body.success) throw badRequest('expected {"repository": "owner/name"} (or null for none)');
    const row = (await workspacesOf(orgId)).find((r) => r.externalId === workspaceId);
    if (!row) throw notFound("Linear workspace");
    const { repository } = body.data;
    if (repository) {
      const repo = await opts.db.query.repositories.findFirst({
        where: and(eq(schema.repositories.orgId, orgId), eq(schema.repositories.name, repository)),
      });
      if (!repo) throw badRequest(`this organization has no repository ${repository}`);
    }
    const data = row.data as WorkspaceData;
    const teamRepositories = { ...data.teamRepositories };
    if (repository) teamRepositories[teamId] = repository;
    else delete teamRepositories[teamId];
    await opts.db
      .update(schema.installations)
      .set({ data: { ...data, teamRepositories } })
      .where(eq(schema.installations.id, row.id));
    return { teamId, repository };
  });
}
