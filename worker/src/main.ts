import { createLogger, loadConfigOrExit, openRuntime, runMain } from "@tandem/core";
import { startWorker } from "./worker.ts";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "worker" });
  const rt = await openRuntime(config, logger);
  const worker = startWorker(rt);
  logger.info("worker.started");
  return async () => {
    await worker.close();
    await rt.close();
  };
});
