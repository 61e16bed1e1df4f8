export { startBot, type RunningBot } from "./bot.ts";
export { createProviders } from "./providers.ts";
