import {
  createLogger,
  engineSocketOf,
  loadConfigOrExit,
  openRuntime,
  runMain,
  startDockerExecProxy,
} from "@tandem/core";
import { createProviders } from "@tandem/bot";
import { startWorker } from "./worker.ts";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "worker" });
  const rt = await openRuntime(config, logger);
  const worker = startWorker(rt, { providers: createProviders(rt) });
  // The web service reaches sandboxes through this, not the engine socket (docker-compose.yml).
  const proxy = config.DOCKER_EXEC_PROXY_SOCKET
    ? await startDockerExecProxy({
        listenPath: config.DOCKER_EXEC_PROXY_SOCKET,
        upstreamSocket: engineSocketOf(config.DOCKER_HOST),
        logger,
      })
    : undefined;
  logger.info("worker.started");
  return async () => {
    await proxy?.close();
    await worker.close();
    await rt.close();
  };
});
