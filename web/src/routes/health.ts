import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { withTimeout } from "@tandem/core";
import type { WebDeps } from "../deps.ts";

export function healthRoutes(app: FastifyInstance, deps: WebDeps, metrics: Registry) {
  app.get("/healthz", async () => ({ ok: true }));

  app.get("/readyz", async (_req, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2_000, "timed out");
        return "ok";
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    const [postgres, redis] = await Promise.all([
      check(() => deps.database.ping()),
      check(() => deps.redis.ping()),
    ]);
    const ok = postgres === "ok" && redis === "ok";
    return reply.code(ok ? 200 : 503).send({ ok, postgres, redis });
  });

  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", metrics.contentType);
    return metrics.metrics();
  });
}
