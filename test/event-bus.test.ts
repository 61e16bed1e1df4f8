import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRedisEventBus,
  type EventBus,
  type SessionChange,
  type SessionEvent,
} from "@tandem/core";
import { capturingLogger } from "./helpers/logs.ts";
import { randomSuffix, TEST_REDIS_URL } from "./helpers/runtime.ts";
import { until } from "./helpers/stack.ts";

// The Redis bus on the machine's Redis: whatever else arrives on its channels is logged and
// dropped before a listener sees it, and the messages after it still arrive.
describe("the event bus", () => {
  const prefix = `test-bus-${randomSuffix()}`;
  const logLines: string[] = [];
  let publisher: Redis;
  let subscriber: Redis;
  let raw: Redis;
  let bus: EventBus;
  beforeAll(() => {
    publisher = new Redis(TEST_REDIS_URL);
    subscriber = new Redis(TEST_REDIS_URL);
    raw = new Redis(TEST_REDIS_URL);
    const { logger } = capturingLogger(logLines);
    bus = createRedisEventBus(publisher, subscriber, prefix, logger);
  });
  afterAll(() => {
    for (const c of [publisher, subscriber, raw]) c?.disconnect();
  });
  const dropped = () => logLines.filter((l) => l.includes('"msg":"bus.message_dropped"'));

  it("drops malformed session changes with a log line and delivers the valid ones", async () => {
    const orgId = randomUUID();
    const got: SessionChange[] = [];
    const unsubscribe = await bus.subscribeChanges(orgId, (c) => got.push(c));
    const channel = `${prefix}:org:${orgId}:sessions`;
    const before = dropped().length;
    for (const garbage of [
      "not json {",
      "null",
      JSON.stringify({ orgId, sessionId: "not-a-uuid", kind: "created" }),
      JSON.stringify({ orgId, sessionId: randomUUID(), kind: "exploded" }),
      JSON.stringify({ orgId, sessionId: randomUUID(), kind: "status", extra: 1 }),
    ])
      await raw.publish(channel, garbage);
    const valid: SessionChange = { orgId, sessionId: randomUUID(), kind: "status" };
    await bus.publishChange(valid);
    await until("the valid change", async () => got.length > 0, 5_000);
    await unsubscribe();
    expect(got).toEqual([valid]);
    expect(dropped().length - before).toBe(5);
    expect(dropped().at(-1)).toContain(channel);
  });

  it("drops malformed session events on both the session's channel and the pattern", async () => {
    const sessionId = randomUUID();
    const one: SessionEvent[] = [];
    const all: SessionEvent[] = [];
    const offOne = await bus.subscribe(sessionId, (e) => one.push(e));
    const offAll = await bus.subscribeAll((e) => all.push(e));
    const before = dropped().length;
    await raw.publish(`${prefix}:session:${sessionId}:events`, "{broken");
    await raw.publish(`${prefix}:session:${sessionId}:events`, JSON.stringify({ seq: "1" }));
    const event: SessionEvent = {
      sessionId,
      seq: 1,
      createdAt: new Date().toISOString(),
      body: { type: "status", status: "running" },
    };
    await bus.publish(event);
    await until("the valid event", async () => one.length > 0 && all.length > 0, 5_000);
    await offOne();
    await offAll();
    expect(one).toEqual([event]);
    expect(all).toEqual([event]);
    // Each bad message is dropped once per subscription that saw it: the channel's and the pattern's.
    expect(dropped().length - before).toBe(4);
  });
});
