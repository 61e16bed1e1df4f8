import type { FastifyInstance } from "fastify";
import { AppError, portOrigin, portsPublicUrl } from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { attachmentRoutes } from "./attachments.ts";
import { collectChanges } from "./changes.ts";
import { portLinkRoutes } from "./port-links.ts";
import { networkRoutes } from "./network.ts";
import { listeningProcesses } from "./processes.ts";
import { liveSandboxOrThrow, requireSession } from "./sandbox-access.ts";
import { terminalRoutes } from "./terminal.ts";
import { uiRoutes } from "./ui.ts";

/** Everything the browser workbench talks to: pages, terminals, changes, processes, links to ports. */
export async function workbenchRoutes(app: FastifyInstance, deps: WebDeps) {
  app.get("/api/sessions/:id/changes", async (req) => {
    const sandbox = await liveSandboxOrThrow(deps, await requireSession(deps, req));
    return collectChanges(sandbox);
  });
  app.get("/api/sessions/:id/processes", async (req) => {
    const session = await requireSession(deps, req);
    const listening = await listeningProcesses(await liveSandboxOrThrow(deps, session));
    // `url` is Tandem's link that signs the person in on the port's own `origin`.
    const origin = (port: number) => portOrigin(portsPublicUrl(deps.config), session.id, port);
    return {
      ports: listening.map(({ port, pid, command }) => ({
        port,
        pid,
        command,
        url: `/sessions/${session.id}/ports/${port}/`,
        origin: origin(port),
      })),
    };
  });
  // Whether the repository-bound panels can work now, and if not why, so the page can say so.
  app.get("/api/sessions/:id/sandbox", async (req) => {
    const session = await requireSession(deps, req);
    try {
      await liveSandboxOrThrow(deps, session);
      return { available: true };
    } catch (err) {
      if (err instanceof AppError && (err.status === 409 || err.status === 503))
        return { available: false, reason: err.message };
      throw err;
    }
  });
  attachmentRoutes(app, deps);
  networkRoutes(app, deps);
  terminalRoutes(app, deps);
  portLinkRoutes(app, deps);
  await uiRoutes(app, deps);
}
