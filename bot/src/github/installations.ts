import { and, eq, inArray, notInArray } from "drizzle-orm";
import { ensureDefaultOrganization, schema, type Db, type Logger } from "@tandem/core";
import { githubCall, type GitHubApp } from "./client.ts";
import { PROVIDER } from "./config.ts";

export type InstallationRow = typeof schema.installations.$inferSelect;

/** Non-secret facts kept in `installations.data`. */
interface InstallationData {
  account?: string;
  suspended?: boolean;
}

export async function findGitHubInstallation(
  db: Db,
  installationId: number,
): Promise<InstallationRow | null> {
  const row = await db.query.installations.findFirst({
    where: and(
      eq(schema.installations.provider, PROVIDER),
      eq(schema.installations.externalId, String(installationId)),
    ),
  });
  return row ?? null;
}

/**
 * The installation's row: a claimed installation keeps its org; a new one belongs to the default
 * org until an admin claims it (`POST /api/github/installations/:id/claim`).
 */
export async function recordInstallation(
  db: Db,
  input: { installationId: number; account?: string; orgId?: string; defaultOrgName: string },
): Promise<InstallationRow> {
  const existing = await findGitHubInstallation(db, input.installationId);
  const orgId = input.orgId ?? existing?.orgId ?? (await defaultOrgId(db, input.defaultOrgName));
  const data: InstallationData = {
    ...(existing?.data as InstallationData | undefined),
    ...(input.account ? { account: input.account } : {}),
  };
  const [row] = await db
    .insert(schema.installations)
    .values({
      orgId,
      provider: PROVIDER,
      externalId: String(input.installationId),
      data,
    })
    .onConflictDoUpdate({
      target: [schema.installations.provider, schema.installations.externalId],
      set: { orgId, data },
    })
    .returning();
  return row!;
}

async function defaultOrgId(db: Db, name: string): Promise<string> {
  const org =
    (await db.query.organizations.findFirst({ where: eq(schema.organizations.isDefault, true) })) ??
    (await ensureDefaultOrganization(db, name)).org;
  return org.id;
}

interface ApiRepository {
  name: string;
  full_name: string;
  clone_url: string;
  default_branch?: string;
}

/**
 * Makes the org's repositories match what the installation can reach (`GET /installation/repositories`):
 * added or updated ones point at the installation; ones it lost are detached (kept for their
 * sessions' history, but no token is minted for them any more).
 */
export async function syncInstallationRepositories(
  deps: { db: Db; github: GitHubApp; logger: Logger },
  row: InstallationRow,
): Promise<string[]> {
  const installationId = Number(row.externalId);
  const octokit = await deps.github.installation(installationId);
  const repos: ApiRepository[] = [];
  for (let page = 1; page < 50; page++) {
    const res = await githubCall(() =>
      octokit.request("GET /installation/repositories", { per_page: 100, page }),
    );
    const batch = res.data.repositories as ApiRepository[];
    repos.push(...batch);
    if (batch.length < 100) break;
  }
  const { db } = deps;
  for (const r of repos) {
    const values = {
      cloneUrl: r.clone_url,
      defaultBranch: r.default_branch ?? "main",
      installationId: row.id,
    };
    await db
      .insert(schema.repositories)
      .values({ orgId: row.orgId, name: r.full_name, ...values })
      .onConflictDoUpdate({
        target: [schema.repositories.orgId, schema.repositories.name],
        set: values,
      });
  }
  const names = repos.map((r) => r.full_name);
  // Lost, or left behind in another org by a claim: no longer reached through this installation.
  await db
    .update(schema.repositories)
    .set({ installationId: null })
    .where(
      and(
        eq(schema.repositories.installationId, row.id),
        names.length > 0 ? notInArray(schema.repositories.name, names) : undefined,
      ),
    );
  await db
    .update(schema.repositories)
    .set({ installationId: null })
    .where(
      and(
        eq(schema.repositories.installationId, row.id),
        names.length > 0 ? inArray(schema.repositories.name, names) : undefined,
        notInArray(schema.repositories.orgId, [row.orgId]),
      ),
    );
  deps.logger.info(
    { installationId, orgId: row.orgId, repositories: names.length },
    "github.repositories_synced",
  );
  return names;
}

export interface InstallationView {
  installationId: number;
  account: string | null;
  orgId: string;
  orgName: string;
  repositories: string[];
}

/** The GitHub installations held by these orgs, with the repositories each reaches there. */
export async function listInstallations(db: Db, orgIds: string[]): Promise<InstallationView[]> {
  if (!orgIds.length) return [];
  const rows = await db
    .select({ installation: schema.installations, orgName: schema.organizations.name })
    .from(schema.installations)
    .innerJoin(schema.organizations, eq(schema.organizations.id, schema.installations.orgId))
    .where(
      and(eq(schema.installations.provider, PROVIDER), inArray(schema.installations.orgId, orgIds)),
    )
    .orderBy(schema.installations.createdAt);
  const repos = rows.length
    ? await db
        .select({
          installationId: schema.repositories.installationId,
          name: schema.repositories.name,
        })
        .from(schema.repositories)
        .where(
          inArray(
            schema.repositories.installationId,
            rows.map((r) => r.installation.id),
          ),
        )
        .orderBy(schema.repositories.name)
    : [];
  return rows.map(({ installation, orgName }) => ({
    installationId: Number(installation.externalId),
    account: (installation.data as InstallationData).account ?? null,
    orgId: installation.orgId,
    orgName,
    repositories: repos.filter((r) => r.installationId === installation.id).map((r) => r.name),
  }));
}

/** The installation was uninstalled: its repositories stay, detached. */
export async function removeInstallation(db: Db, installationId: number): Promise<void> {
  const row = await findGitHubInstallation(db, installationId);
  if (!row) return;
  await db
    .update(schema.repositories)
    .set({ installationId: null })
    .where(eq(schema.repositories.installationId, row.id));
  await db.delete(schema.installations).where(eq(schema.installations.id, row.id));
}
