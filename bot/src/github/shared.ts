import type { Clock, Logger } from "@tandem/core";
import { GitHubApp } from "./client.ts";
import type { GitHubSettings } from "./config.ts";

const apps = new Map<string, GitHubApp>();

/**
 * One GitHubApp per App id, key and API URL in this process, so the web routes, the git
 * credential route and the worker share the identity lookup and the sandbox token cache.
 */
export function sharedGitHubApp(settings: GitHubSettings, logger: Logger, clock: Clock): GitHubApp {
  const key = `${settings.appId}\0${settings.apiUrl}\0${settings.privateKey}`;
  let app = apps.get(key);
  if (!app) {
    app = new GitHubApp(settings, logger.child({ provider: "github" }), clock);
    apps.set(key, app);
  }
  return app;
}
