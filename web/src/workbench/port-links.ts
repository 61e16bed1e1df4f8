import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError, badRequest, notFound, portOrigin, portsPublicUrl } from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { AUTHORIZE_PATH } from "../ports/server.ts";
import { LINK_TTL_MS, portTokenKey, signPortToken } from "../ports/token.ts";
import { listeningPorts } from "./processes.ts";
import { liveSandboxOrThrow, requireSession } from "./sandbox-access.ts";

const PREFIX = /^\/sessions\/[^/]+\/ports\/[^/?]+/;

/** The path and query after `/sessions/:id/ports/:port`, as the app in the sandbox will see it. */
function appPath(url: string): string {
  const rest = url.replace(PREFIX, "");
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/**
 * `GET /sessions/:id/ports/:port/*`: never the sandbox's content (that would run on Tandem's
 * origin, next to its cookies), but a redirect to the port's own origin with a link token that
 * names the session, the port and the person, and expires within a minute.
 */
export function portLinkRoutes(app: FastifyInstance, deps: WebDeps) {
  const key = portTokenKey(deps.config);
  const base = portsPublicUrl(deps.config);
  const link = async (req: FastifyRequest) => {
    const session = await requireSession(deps, req);
    const port = Number((req.params as { port: string }).port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw badRequest("port must be 1-65535");
    if (!(await listeningPorts(await liveSandboxOrThrow(deps, session))).includes(port)) {
      throw notFound(`a process listening on port ${port} in the sandbox`);
    }
    const token = signPortToken(key, {
      kind: "link",
      sessionId: session.id,
      port,
      userId: req.userId!,
      expiresAtMs: deps.clock.now().getTime() + LINK_TTL_MS,
    });
    const query = new URLSearchParams({ token, next: appPath(req.url) });
    return `${portOrigin(base, session.id, port)}${AUTHORIZE_PATH}?${query}`;
  };
  const options = {
    // An upgrade would otherwise be accepted and dropped: the port's WebSockets live on its origin too.
    preHandler: async (req: FastifyRequest) => {
      if (req.ws)
        throw new AppError(
          "not_found",
          `sandbox ports are served from ${base}, not from Tandem's origin`,
          404,
        );
    },
  };
  for (const url of ["/sessions/:id/ports/:port", "/sessions/:id/ports/:port/*"]) {
    app.get(url, options, async (req, reply) =>
      reply
        .header("cache-control", "no-store")
        .header("referrer-policy", "no-referrer")
        .redirect(await link(req), 303),
    );
  }
}
