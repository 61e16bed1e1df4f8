import type { ChatProvider, Runtime } from "@tandem/core";
import { LinearWorkspaces } from "./client.ts";
import { linearSettings, PROVIDER } from "./config.ts";
import { followLinearSessions } from "./follow.ts";
import { linearIntegration } from "./gateway.ts";
import { createLinearOutbound } from "./outbound.ts";
import { LinearOutbox, type LinearOutboundJob } from "./outbox.ts";
import { createLinearRouter } from "./router.ts";
import { linearRoutes } from "./routes.ts";
import { linearSettingsRoutes } from "./settings-routes.ts";

/**
 * Linear as a provider, on its Agents API: mentioning or delegating to the agent opens a Linear
 * agent session, which Tandem binds to a session and reports into as activities (a thought at
 * once, actions while it works, one response or error at the end) with the View session link.
 * With LINEAR_API_KEY alone, only the gateway's pass-through for the agent; null without a key.
 */
export function linearProvider(rt: Runtime): ChatProvider | null {
  const integration = linearIntegration(rt.config) ?? undefined;
  const settings = linearSettings(rt.config);
  if (!settings) return integration ? { name: PROVIDER, title: "Linear", integration } : null;
  const logger = rt.logger.child({ provider: PROVIDER });
  const db = rt.database.db;
  const outbox = new LinearOutbox(rt.queues.outbound, rt.clock);
  const workspaces = new LinearWorkspaces({
    db,
    settings,
    defaultOrgName: rt.config.DEFAULT_ORG_NAME,
  });
  const route = createLinearRouter({
    workspaces,
    db,
    bus: rt.bus,
    queues: rt.queues,
    logger,
    clock: rt.clock,
    publicUrl: settings.publicUrl,
    defaultOrgName: rt.config.DEFAULT_ORG_NAME,
    outbox,
  });
  const send = createLinearOutbound({ db, clock: rt.clock, logger, workspaces, settings });
  return {
    name: PROVIDER,
    title: "Linear",
    routes: async (app, access) => {
      await linearRoutes(app, {
        settings,
        db,
        queues: rt.queues,
        logger: rt.logger,
        clock: rt.clock,
        adminOrg: access.adminOrg,
      });
      linearSettingsRoutes(app, { settings, db, logger, workspaces, adminOrg: access.adminOrg });
    },
    inbound: route,
    outbound: (job, log) => send(job as LinearOutboundJob, log),
    follow: ({ catchUpMs }) =>
      followLinearSessions({ db, bus: rt.bus, logger, outbox, clock: rt.clock, catchUpMs }),
    // The work leaves as a pull request, opened by the repository's host (the GitHub App).
    publishes: true,
    integration,
  };
}
