import { eq } from "drizzle-orm";
import { repositoriesForGrant, schema, type Clock, type Config, type Db, type Logger, type Repository } from "@tandem/core";
import { githubSettings } from "./config.ts";
import { sharedGitHubApp } from "./shared.ts";

/** Answers the sandbox's git for a repository reached through a GitHub App installation. */
export type GitHubGitCredentials = (
  grant: { orgId: string; repositoryIds: string[] }, repo: Repository,
) => Promise<{ username: string; password: string } | null>;

/**
 * Git credentials for installed repositories: an installation token minted for the sandbox token's
 * repositories of that installation only, with `contents` and `pull_requests` write, cached until
 * shortly before it expires. The App's key never leaves this process. Null when GitHub is not configured.
 */
export function githubGitCredentials(deps: { config: Config; db: Db; logger: Logger; clock: Clock }): GitHubGitCredentials | null {
  const settings = githubSettings(deps.config);
  if (!settings) return null;
  const github = sharedGitHubApp(settings, deps.logger, deps.clock);
  return async (grant, repo) => {
    if (!repo.installationId) return null;
    const installation = await deps.db.query.installations.findFirst({ where: eq(schema.installations.id, repo.installationId) });
    if (!installation) return null;
    const names = (await repositoriesForGrant(deps.db, grant))
      .filter((r) => r.installationId === repo.installationId)
      .map((r) => r.name.split("/")[1]!);
    const { token } = await github.sandboxToken(Number(installation.externalId), names);
    return { username: "x-access-token", password: token };
  };
}
