import { createLogger, createSandboxProvider, loadConfigOrExit, openRuntime, runMain } from "@tandem/core";
import { buildApp } from "./app.ts";
import { listen } from "./server.ts";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "web" });
  const rt = await openRuntime(config, logger);
  const app = await buildApp({ ...rt, sandboxes: createSandboxProvider(config, logger) });
  await listen(app, config);
  return async () => {
    await app.close();
    await rt.close();
  };
});
