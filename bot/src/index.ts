export { startBot, type RunningBot } from "./bot.ts";
