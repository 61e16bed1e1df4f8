import {
  createLogger,
  createSandboxProvider,
  loadConfigOrExit,
  openRuntime,
  runMain,
} from "@tandem/core";
import { createProviders } from "@tandem/bot";
import { serveWeb } from "./server.ts";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "web" });
  const rt = await openRuntime(config, logger);
  const web = await serveWeb({
    ...rt,
    providers: createProviders(rt),
    sandboxes: createSandboxProvider(config, logger),
  });
  return async () => {
    await web.close();
    await rt.close();
  };
});
