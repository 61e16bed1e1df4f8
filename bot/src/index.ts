export { startBot, type RunningBot } from "./bot.ts";
export {
  createSlackWorker, slackRoutes, slackManifest, slackSettings, type SlackWorker, type SlackRouteOptions,
} from "./slack/index.ts";
