import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { WebDeps } from "../deps.ts";

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out")), ms))]);

export function healthRoutes(app: FastifyInstance, deps: WebDeps, metrics: Registry) {
  app.get("/healthz", async () => ({ ok: true }));

  app.get("/readyz", async (_req, reply) => {
    const check = async (fn: () => Promise<unknown>) => {
      try {
        await withTimeout(fn(), 2_000);
        return "ok";
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    const [postgres, redis] = await Promise.all([check(() => deps.database.ping()), check(() => deps.redis.ping())]);
    const ok = postgres === "ok" && redis === "ok";
    return reply.code(ok ? 200 : 503).send({ ok, postgres, redis });
  });

  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", metrics.contentType);
    return metrics.metrics();
  });
}
