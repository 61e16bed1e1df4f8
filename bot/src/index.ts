export { startBot, type RunningBot } from "./bot.ts";
export {
  createSlackWorker, slackRoutes, slackManifest, slackSettings, type SlackWorker, type SlackRouteOptions,
} from "./slack/index.ts";
export {
  createGitHubWorker, githubRoutes, githubGitCredentials, githubSettings, type GitHubWorker, type GitHubRouteOptions,
  type GitHubGitCredentials,
} from "./github/index.ts";
