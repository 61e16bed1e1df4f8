import type { InboundEvent, Logger, Runtime } from "@tandem/core";
import { githubSettings, PROVIDER } from "./config.ts";
import { followGitHubSessions } from "./follow.ts";
import { createGitHubOutbound } from "./outbound.ts";
import { GitHubOutbox, type GitHubOutboundJob } from "./outbox.ts";
import { createGitHubRouter } from "./router.ts";
import { sharedGitHubApp } from "./shared.ts";

export { githubRoutes, type GitHubRouteOptions } from "./routes.ts";
export {
  githubApiToken,
  githubGitCredentials,
  type GitHubApiToken,
  type GitHubGitCredentials,
} from "./credentials.ts";
export { githubSettings, threadKey as githubThreadKey } from "./config.ts";
export type { GitHubOutboundJob } from "./outbox.ts";

/** What the worker runs for GitHub: the inbound router, the outbound processor and the reporter's follower. */
export interface GitHubWorker {
  inbound(event: InboundEvent, log: Logger): Promise<void>;
  outbound(job: unknown, log: Logger): Promise<void>;
  follow(opts?: { catchUpMs?: number }): Promise<() => Promise<void>>;
}

export function createGitHubWorker(rt: Runtime): GitHubWorker | null {
  const settings = githubSettings(rt.config);
  if (!settings) return null;
  const logger = rt.logger.child({ provider: PROVIDER });
  const db = rt.database.db;
  const github = sharedGitHubApp(settings, rt.logger, rt.clock);
  const outbox = new GitHubOutbox(rt.queues.outbound, rt.clock);
  const route = createGitHubRouter({
    db,
    bus: rt.bus,
    queues: rt.queues,
    logger,
    clock: rt.clock,
    publicUrl: settings.publicUrl,
    defaultOrgName: rt.config.DEFAULT_ORG_NAME,
    settings,
    github,
    outbox,
  });
  const send = createGitHubOutbound({
    db,
    clock: rt.clock,
    logger,
    redis: rt.redis,
    redisPrefix: rt.config.REDIS_PREFIX,
    github,
    publicUrl: settings.publicUrl,
  });
  return {
    inbound: route,
    outbound: (job, log) => send(job as GitHubOutboundJob, log),
    follow: (opts = {}) =>
      followGitHubSessions({
        db,
        bus: rt.bus,
        logger,
        outbox,
        clock: rt.clock,
        catchUpMs: opts.catchUpMs,
      }),
  };
}
