import { createLogger, createSandboxProvider, loadConfigOrExit, openRuntime, runMain } from "@tandem/core";
import { buildApp } from "./app.ts";
import { listen, startPortsServer } from "./server.ts";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "web" });
  const rt = await openRuntime(config, logger);
  const deps = { ...rt, sandboxes: createSandboxProvider(config, logger) };
  const app = await buildApp(deps);
  await listen(app, config);
  const ports = await startPortsServer(deps);
  return async () => {
    await ports.close();
    await app.close();
    await rt.close();
  };
});
