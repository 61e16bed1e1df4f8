import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { acceptInbound, schema, type InboundEvent } from "@tandem/core";
import { buildApp } from "@tandem/web";
import { startWorker, type RunningWorker } from "@tandem/worker";
import { privateRedis } from "./helpers/private-redis.ts";
import { startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";
import { until } from "./helpers/stack.ts";

describe("the inbox survives a Redis outage", () => {
  let redis: Awaited<ReturnType<typeof privateRedis>>;
  let rt: TestRuntime;
  let worker: RunningWorker | undefined;
  const handled: string[] = [];
  const handlers = { test: async (event: InboundEvent) => void handled.push(event.deliveryId) };

  beforeAll(async () => {
    redis = await privateRedis();
    rt = await startTestRuntime("postgres", { REDIS_URL: redis.url });
  });
  afterAll(async () => {
    await worker?.close();
    await rt?.close();
    await redis?.stop();
  });

  const row = async (deliveryId: string) =>
    (
      await rt.database.db
        .select()
        .from(schema.inboundEvents)
        .where(eq(schema.inboundEvents.deliveryId, deliveryId))
    )[0]!;
  const deps = () => ({
    db: rt.database.db,
    queues: rt.queues,
    logger: rt.logger,
    clock: rt.clock,
  });

  it("processes an event enqueued normally, once", async () => {
    worker = startWorker(rt, { providers: rt.providers, handlers, sweepIntervalMs: 200 });
    const accepted = await acceptInbound(deps(), {
      provider: "test",
      deliveryId: "normal",
      payload: {},
    });
    expect(await accepted.enqueued).toBe(true);
    await until("processing", async () => (await row("normal")).processedAt);
    expect(handled.filter((d) => d === "normal")).toHaveLength(1);
  });

  it("commits while Redis is down and processes the event after Redis returns", async () => {
    await redis.stop();
    const started = Date.now();
    const accepted = await acceptInbound(deps(), {
      provider: "test",
      deliveryId: "during-outage",
      payload: { n: 1 },
    });
    // The commit is what the caller waits for before acknowledging; it does not wait on Redis.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await accepted.enqueued).toBe(false);
    const committed = await row("during-outage");
    expect(committed).toMatchObject({ processedAt: null, enqueuedAt: null, payload: { n: 1 } });

    await new Promise((r) => setTimeout(r, 500)); // sweeps during the outage find Redis away
    expect(handled).not.toContain("during-outage");
    const app = await buildApp(rt);
    const ready = await app.inject({ method: "GET", url: "/readyz" });
    await app.close();
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({
      ok: false,
      postgres: "ok",
      redis: expect.stringMatching(/^error: /),
    });

    await redis.start();
    await until(
      "processing after Redis returns",
      async () => (await row("during-outage")).processedAt,
    );
    expect(handled.filter((d) => d === "during-outage")).toHaveLength(1);
  });

  it("re-enqueues an event whose job was lost with Redis", async () => {
    await worker?.close();
    worker = undefined;
    const accepted = await acceptInbound(deps(), {
      provider: "test",
      deliveryId: "lost-job",
      payload: {},
    });
    expect(await accepted.enqueued).toBe(true); // in Redis, but no worker is running…
    await redis.stop(); // …and Redis keeps nothing on disk: the job is gone.
    await redis.start();
    worker = startWorker(rt, {
      providers: rt.providers,
      handlers,
      sweepIntervalMs: 200,
      staleAfterMs: 300,
    });
    await until("processing of the lost job", async () => (await row("lost-job")).processedAt);
    expect(handled.filter((d) => d === "lost-job")).toHaveLength(1);
  });
});
