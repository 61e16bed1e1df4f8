/**
 * `npm start`: web, worker and bot in one process on one port (sandbox ports on PORTS_PORT), with
 * embedded defaults (PGlite under ./.data when DATABASE_URL is unset, a private redis-server when
 * REDIS_URL is unset).
 */
import {
  createLogger,
  createSandboxProvider,
  ensureDefaultOrganization,
  issueToken,
  loadConfigOrExit,
  LOGIN_LINK_TTL_MS,
  openRuntime,
  runMain,
} from "@tandem/core";
import { createProviders, startBot } from "@tandem/bot";
import { serveWeb } from "@tandem/web/server";
import { startWorker } from "@tandem/worker";

runMain(async () => {
  const config = loadConfigOrExit();
  const logger = createLogger({ level: config.LOG_LEVEL, service: "tandem" });
  const rt = await openRuntime(config, logger, { embeddedRedis: true });
  const { ownerId } = await ensureDefaultOrganization(rt.database.db, config.DEFAULT_ORG_NAME);
  const providers = createProviders(rt);
  const worker = startWorker(rt, { providers });
  const bot = await startBot(rt, providers);
  const web = await serveWeb({
    ...rt,
    providers,
    sandboxes: createSandboxProvider(config, logger),
  });

  const base = config.PUBLIC_URL.replace(/\/$/, "");
  const login = await issueToken(rt.database.db, rt.clock, {
    userId: ownerId,
    kind: "login",
    ttlMs: LOGIN_LINK_TTL_MS,
  });
  // Printed, not logged: the link is for the person at this terminal, and it works once.
  process.stdout.write(
    `\nTandem is running at ${base}\nOwner login link (one-time, 24 h): ${base}/login/${login.token}\n\n`,
  );

  return async () => {
    await web.close();
    await bot.close();
    await worker.close();
    await rt.close();
  };
});
