export { startBot } from "./bot.ts";
export { createProviders } from "./providers.ts";
