export { startBot, type RunningBot } from "./bot.ts";
export {
  createSlackWorker,
  slackRoutes,
  slackManifest,
  slackSessionToken,
  slackSettings,
  type SlackSessionToken,
  type SlackWorker,
  type SlackRouteOptions,
} from "./slack/index.ts";
export {
  createGitHubWorker,
  githubApiToken,
  githubRoutes,
  githubGitCredentials,
  githubSettings,
  type GitHubApiToken,
  type GitHubWorker,
  type GitHubRouteOptions,
  type GitHubGitCredentials,
} from "./github/index.ts";
