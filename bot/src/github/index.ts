import { followTrackingComments, type ChatProvider, type Runtime } from "@tandem/core";
import { githubGitCredentials } from "./credentials.ts";
import { githubSettings, PROVIDER } from "./config.ts";
import { githubIntegration } from "./gateway.ts";
import { createGitHubOutbound, createPullRequestHost } from "./outbound.ts";
import { GitHubOutbox, type GitHubOutboundJob } from "./outbox.ts";
import { createGitHubRouter } from "./router.ts";
import { githubRoutes } from "./routes.ts";
import { sharedGitHubApp } from "./shared.ts";

/**
 * GitHub as a provider (a GitHub App): the webhook and installation routes, the router for
 * mentions, assignments and review comments, the tracking comment edited in place, the pull
 * request each turn's pushed branch gets, installation tokens for the sandbox's git remote and
 * the gateway. Null when the App is not configured.
 */
export function githubProvider(rt: Runtime): ChatProvider | null {
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
  const outboundDeps = {
    db,
    clock: rt.clock,
    logger,
    redis: rt.redis,
    redisPrefix: rt.config.REDIS_PREFIX,
    github,
    publicUrl: settings.publicUrl,
  };
  const send = createGitHubOutbound(outboundDeps);
  const deps = { config: rt.config, db, logger: rt.logger, clock: rt.clock };
  const gitCredential = githubGitCredentials(deps);
  const web = rt.config.GITHUB_URL.replace(/\/$/, "");
  return {
    name: PROVIDER,
    title: "GitHub",
    routes: (app, access) => githubRoutes(app, { ...deps, queues: rt.queues, ...access }),
    inbound: route,
    outbound: (job, log) => send(job as GitHubOutboundJob, log),
    follow: ({ catchUpMs }) =>
      followTrackingComments({
        provider: PROVIDER,
        db,
        bus: rt.bus,
        logger,
        outbox,
        clock: rt.clock,
        catchUpMs,
      }),
    // The issue URL reaches a pull request too.
    originUrl: (key) => {
      const m = /^([\w.-]+\/[\w.-]+)#(\d+)$/.exec(key);
      return m ? `${web}/${m[1]}/issues/${m[2]}` : null;
    },
    publishes: true,
    pullRequests: createPullRequestHost(outboundDeps),
    ...(gitCredential ? { gitCredential } : {}),
    integration: githubIntegration(deps) ?? undefined,
  };
}
