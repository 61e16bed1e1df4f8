import { Registry } from "prom-client";
import { createLogger, createSandboxProvider, loadConfigOrExit, openRuntime, runMain, usesGateway } from "@tandem/core";
import { buildApp } from "./app.ts";
import { startSandboxGateway } from "./gateway/gateway.ts";
import { listen } from "./server.ts";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "web" });
  const rt = await openRuntime(config, logger);
  // One registry: /metrics counts the gateway's egress decisions too.
  const deps = { ...rt, sandboxes: createSandboxProvider(config, logger), metrics: new Registry() };
  const app = await buildApp(deps);
  const gateway = usesGateway(config) ? await startSandboxGateway(deps) : undefined;
  await listen(app, config);
  return async () => {
    await gateway?.close();
    await app.close();
    await rt.close();
  };
});
