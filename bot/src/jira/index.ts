import { followTrackingComments, type ChatProvider, type Runtime } from "@tandem/core";
import { JiraSite } from "./client.ts";
import { issueKeyOf, jiraSettings, PROVIDER } from "./config.ts";
import { jiraIntegration } from "./gateway.ts";
import { createJiraOutbound } from "./outbound.ts";
import { JiraOutbox, type JiraOutboundJob } from "./outbox.ts";
import { createJiraRouter } from "./router.ts";
import { jiraRoutes } from "./routes.ts";
import { jiraSettingsRoutes } from "./settings-routes.ts";

/**
 * Jira Cloud as a provider: mentioning the agent in a comment, assigning it an issue or adding
 * the trigger label starts a session bound to the issue, reported in one comment (ADF) edited in
 * place with the View session link; the work leaves as a pull request from the repository's
 * host. With the credentials alone (no webhook secret), only the gateway's pass-through for the
 * agent; null without them.
 */
export function jiraProvider(rt: Runtime): ChatProvider | null {
  const integration = jiraIntegration(rt.config) ?? undefined;
  const settings = jiraSettings(rt.config);
  if (!settings) return integration ? { name: PROVIDER, title: "Jira", integration } : null;
  const logger = rt.logger.child({ provider: PROVIDER });
  const db = rt.database.db;
  const outbox = new JiraOutbox(rt.queues.outbound, rt.clock);
  const site = new JiraSite({ db, settings, defaultOrgName: rt.config.DEFAULT_ORG_NAME });
  const route = createJiraRouter({
    db,
    bus: rt.bus,
    queues: rt.queues,
    logger,
    clock: rt.clock,
    publicUrl: settings.publicUrl,
    settings,
    site,
    outbox,
  });
  const send = createJiraOutbound({
    db,
    clock: rt.clock,
    logger,
    redis: rt.redis,
    redisPrefix: rt.config.REDIS_PREFIX,
    site,
    settings,
  });
  return {
    name: PROVIDER,
    title: "Jira",
    routes: async (app, access) => {
      await jiraRoutes(app, {
        settings,
        db,
        queues: rt.queues,
        logger: rt.logger,
        clock: rt.clock,
      });
      jiraSettingsRoutes(app, { settings, db, logger, site, adminOrg: access.adminOrg });
    },
    inbound: route,
    outbound: (job, log) => send(job as JiraOutboundJob, log),
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
    originUrl: (key) => {
      const issueKey = issueKeyOf(settings.site, key);
      return issueKey ? `${settings.baseUrl}/browse/${issueKey}` : null;
    },
    // The work leaves as a pull request, opened by the repository's host (the GitHub App).
    publishes: true,
    integration,
  };
}
