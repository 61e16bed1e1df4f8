import { and, eq } from "drizzle-orm";
import type { Installation, InstallationQuery, InstallationStore } from "@slack/oauth";
import { AppError, decryptSecret, encryptSecret, schema, type Db } from "@tandem/core";
import { PROVIDER } from "./config.ts";

export type InstallationRow = typeof schema.installations.$inferSelect;

/** What an OAuth install leaves us, stored encrypted in `installations.credentials_encrypted`. */
export interface StoredCredentials {
  botToken: string;
}

/** Non-secret facts kept in `installations.data`. */
export interface InstallationData {
  teamName?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  scopes?: string[];
}

export async function findSlackInstallation(
  db: Db,
  teamId: string,
): Promise<InstallationRow | null> {
  const row = await db.query.installations.findFirst({
    where: and(
      eq(schema.installations.provider, PROVIDER),
      eq(schema.installations.externalId, teamId),
    ),
  });
  return row ?? null;
}

export const installationData = (row: InstallationRow) => (row.data ?? {}) as InstallationData;

export function storedCredentials(
  encryptionKey: string | undefined,
  row: InstallationRow,
): StoredCredentials | null {
  if (!row.credentialsEncrypted) return null;
  return JSON.parse(decryptSecret(encryptionKey, row.credentialsEncrypted)) as StoredCredentials;
}

/** Records a workspace for an org; an install into a workspace that was already known moves it. */
export async function saveSlackInstallation(
  db: Db,
  input: {
    orgId: string;
    teamId: string;
    data: InstallationData;
    credentialsEncrypted: string | null;
  },
): Promise<void> {
  await db
    .insert(schema.installations)
    .values({
      orgId: input.orgId,
      provider: PROVIDER,
      externalId: input.teamId,
      data: input.data,
      credentialsEncrypted: input.credentialsEncrypted,
    })
    .onConflictDoUpdate({
      target: [schema.installations.provider, schema.installations.externalId],
      set: {
        orgId: input.orgId,
        data: input.data,
        credentialsEncrypted: input.credentialsEncrypted,
      },
    });
}

/**
 * The `@slack/oauth` installation store on the `installations` table. The org an install belongs
 * to travels through the OAuth state as `metadata` (`{"orgId": …}`), set when the install began.
 */
export function installationStore(deps: { db: Db; encryptionKey?: string }): InstallationStore {
  return {
    async storeInstallation(installation: Installation) {
      const teamId = installation.team?.id;
      if (!teamId || !installation.bot) {
        throw new AppError(
          "slack_install_unsupported",
          "only workspace installs with a bot user are supported (not org-wide installs)",
          400,
        );
      }
      const { orgId } = JSON.parse(installation.metadata ?? "{}") as { orgId?: string };
      if (!orgId)
        throw new AppError(
          "slack_install_no_org",
          "start the install from Tandem's /slack/install page",
          400,
        );
      const credentials: StoredCredentials = { botToken: installation.bot.token };
      await saveSlackInstallation(deps.db, {
        orgId,
        teamId,
        data: {
          teamName: installation.team?.name,
          botUserId: installation.bot.userId,
          botId: installation.bot.id,
          appId: installation.appId,
          scopes: installation.bot.scopes,
        },
        credentialsEncrypted: encryptSecret(deps.encryptionKey, JSON.stringify(credentials)),
      });
    },
    async fetchInstallation(query: InstallationQuery<boolean>) {
      const row = query.teamId ? await findSlackInstallation(deps.db, query.teamId) : null;
      const credentials = row ? storedCredentials(deps.encryptionKey, row) : null;
      if (!row || !credentials)
        throw new AppError("not_found", `no Slack installation for team ${query.teamId}`, 404);
      const data = installationData(row);
      return {
        team: { id: row.externalId, name: data.teamName },
        enterprise: undefined,
        user: { token: undefined, scopes: undefined, id: "" },
        bot: {
          token: credentials.botToken,
          scopes: data.scopes ?? [],
          id: data.botId ?? "",
          userId: data.botUserId ?? "",
        },
        appId: data.appId,
        tokenType: "bot",
        isEnterpriseInstall: false,
      } as Installation;
    },
  };
}
