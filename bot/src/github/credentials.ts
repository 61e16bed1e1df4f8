import { eq } from "drizzle-orm";
import {
  repositoriesForGrant,
  schema,
  type Clock,
  type Config,
  type Db,
  type Logger,
  type Repository,
} from "@tandem/core";
import {
  githubSettings,
  SANDBOX_API_TOKEN_PERMISSIONS,
  SANDBOX_TOKEN_PERMISSIONS,
  type TokenPermissions,
} from "./config.ts";
import { sharedGitHubApp } from "./shared.ts";

type Grant = { orgId: string; repositoryIds: string[] };
type Deps = { config: Config; db: Db; logger: Logger; clock: Clock };

/** Answers the sandbox's git for a repository reached through a GitHub App installation. */
export type GitHubGitCredentials = (
  grant: Grant,
  repo: Repository,
) => Promise<{ username: string; password: string } | null>;

/** The installation token the sandbox gateway puts on the agent's GitHub API calls; null without one. */
export type GitHubApiToken = (grant: Grant) => Promise<string | null>;

/**
 * Mints installation tokens for a sandbox token's repositories of one installation only, with
 * `permissions`, cached until shortly before they expire. The App's key never leaves this
 * process. Null when GitHub is not configured.
 */
function grantTokens(deps: Deps) {
  const settings = githubSettings(deps.config);
  if (!settings) return null;
  const github = sharedGitHubApp(settings, deps.logger, deps.clock);
  return async (
    grant: Grant,
    installationRowId: string,
    permissions: TokenPermissions,
  ): Promise<string | null> => {
    const installation = await deps.db.query.installations.findFirst({
      where: eq(schema.installations.id, installationRowId),
    });
    if (!installation) return null;
    const names = (await repositoriesForGrant(deps.db, grant))
      .filter((r) => r.installationId === installationRowId)
      .map((r) => r.name.split("/")[1]!);
    return (await github.sandboxToken(Number(installation.externalId), names, permissions)).token;
  };
}

/** Git credentials for installed repositories: `contents` and `pull_requests` write. */
export function githubGitCredentials(deps: Deps): GitHubGitCredentials | null {
  const tokens = grantTokens(deps);
  if (!tokens) return null;
  return async (grant, repo) => {
    if (!repo.installationId) return null;
    const token = await tokens(grant, repo.installationId, SANDBOX_TOKEN_PERMISSIONS);
    return token ? { username: "x-access-token", password: token } : null;
  };
}

/**
 * The API token for a session: its repositories under the installation of the first installed
 * one (a token reaches one installation), with issues and pull requests write, contents read.
 */
export function githubApiToken(deps: Deps): GitHubApiToken | null {
  const tokens = grantTokens(deps);
  if (!tokens) return null;
  return async (grant) => {
    const installed = (await repositoriesForGrant(deps.db, grant)).find((r) => r.installationId);
    return installed?.installationId
      ? tokens(grant, installed.installationId, SANDBOX_API_TOKEN_PERMISSIONS)
      : null;
  };
}
