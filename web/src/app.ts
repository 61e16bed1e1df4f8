import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from "fastify";
import websocket from "@fastify/websocket";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { AppError, requireAdmin, type ProviderWebAccess } from "@tandem/core";
import { requireActor } from "./auth.ts";
import type { WebDeps } from "./deps.ts";
import { OpenApiRegistry } from "./openapi.ts";
import { routeDeclarer } from "./routes/declare.ts";
import { securityHeaders } from "./security-headers.ts";
import { healthRoutes } from "./routes/health.ts";
import { githubLoginRoutes } from "./routes/github-login.ts";
import { loginRoutes } from "./routes/login.ts";
import { modelProxyRoutes } from "./routes/model-proxy.ts";
import { orgRoutes } from "./routes/orgs.ts";
import { profileTestRoutes } from "./routes/profile-test.ts";
import { profileRoutes } from "./routes/profiles.ts";
import { repositoryRoutes } from "./routes/repositories.ts";
import { setupRoutes } from "./routes/setup.ts";
import { sandboxGitRoutes } from "./routes/sandbox-git.ts";
import { sessionListRoutes } from "./routes/session-list.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { csrfProtection } from "./workbench/csrf.ts";
import { workbenchRoutes } from "./workbench/routes.ts";

/** Errors as `{error: {code, message}}`: AppErrors with their status, Fastify's 4xx as bad_request, the rest 500 (logged). */
export function answerErrors(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) req.log.error({ err }, "request.failed");
      return reply.code(err.status).send({ error: { code: err.code, message: err.message } });
    }
    const status = err.statusCode ?? 500;
    if (status < 500) {
      return reply.code(status).send({
        error: {
          code: status === 413 ? "payload_too_large" : "bad_request",
          message: err.message,
        },
      });
    }
    req.log.error({ err }, "request.failed");
    return reply.code(500).send({
      error: {
        code: "internal",
        message: "internal error; see the server log for request " + req.id,
      },
    });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      error: {
        code: "not_found",
        message: `no route for ${req.method} ${req.url.split("?")[0]}`,
      },
    }),
  );
}

/** The whole HTTP surface as one Fastify app; `server.ts` only listens. */
export async function buildApp(deps: WebDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    genReqId: (req) =>
      typeof req.headers["x-request-id"] === "string" ? req.headers["x-request-id"] : randomUUID(),
    bodyLimit: 2 * 1024 * 1024,
    // Event streams never go idle; on shutdown they are cut and clients resume with Last-Event-ID.
    forceCloseConnections: true,
  });

  const metrics = deps.metrics ?? new Registry();
  // Default metrics once per registry (a shared one may already have them).
  if (!metrics.getSingleMetric("process_cpu_user_seconds_total"))
    collectDefaultMetrics({ register: metrics });
  const requests = new Counter({
    name: "tandem_http_requests_total",
    help: "HTTP requests",
    labelNames: ["method", "route", "status"],
    registers: [metrics],
  });
  const duration = new Histogram({
    name: "tandem_http_request_duration_seconds",
    help: "HTTP request duration",
    labelNames: ["method", "route"],
    registers: [metrics],
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    requests.inc({ method: req.method, route, status: reply.statusCode });
    duration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  answerErrors(app);

  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  csrfProtection(app);
  securityHeaders(app, deps);

  const registry = new OpenApiRegistry();
  const declare = routeDeclarer(app, registry);
  healthRoutes(app, deps, metrics);
  loginRoutes(app, deps);
  githubLoginRoutes(app, deps);
  orgRoutes(declare, deps);
  repositoryRoutes(declare, deps);
  setupRoutes(declare, deps);
  profileRoutes(declare, deps);
  profileTestRoutes(declare, deps);
  sessionRoutes(declare, deps);
  sessionListRoutes(declare, deps);
  // For sandboxes only, with the sandbox token; kept out of the OpenAPI document.
  modelProxyRoutes(app, deps);
  sandboxGitRoutes(app, deps);
  // Provider webhooks and installs, each provider in its own scope (its raw-body parsers stay there).
  const access: ProviderWebAccess = {
    async adminOrg(req) {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      return actor.orgId;
    },
    async adminsDefaultOrg(req) {
      const org = await deps.database.db.query.organizations.findFirst({
        where: (o, { eq }) => eq(o.isDefault, true),
      });
      if (!org) return false;
      const actor = await requireActor(deps, req, org.id).catch(() => null);
      return actor !== null && actor.role !== "member";
    },
  };
  for (const provider of deps.providers) {
    if (provider.routes) await app.register((scope) => provider.routes!(scope, access));
  }
  app.get("/api/openapi.json", async () => registry.document(deps.config.PUBLIC_URL));
  await workbenchRoutes(app, deps);

  return app;
}
