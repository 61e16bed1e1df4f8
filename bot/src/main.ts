import { createLogger, loadConfigOrExit, openRuntime, runMain } from "@tandem/core";
import { startBot } from "./bot.ts";
import { createProviders } from "./providers.ts";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "bot" });
  const rt = await openRuntime(config, logger);
  const bot = await startBot(rt, createProviders(rt));
  return async () => {
    await bot.close();
    await rt.close();
  };
});
