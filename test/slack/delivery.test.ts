import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { BOT_USER_ID, TEAM_ID } from "../fixtures/fake-slack.ts";
import { mention, newTs, postSlack } from "../helpers/slack.ts";
import { useSlackStack } from "../helpers/slack-stack.ts";

// Slack's deliveries: retried and repeated events, forged ones, rate limits (a failure between a
// session and its binding, and a missed live feed, are in the provider contract suite).
describe("Slack: mention, follow in place, continue by replying", () => {
  const slack = useSlackStack();

  it("a retried or repeated delivery starts one session", async () => {
    const { stack } = slack;
    const ts = newTs();
    const body = mention({
      teamId: TEAM_ID,
      channel: "C3",
      ts,
      text: `<@${BOT_USER_ID}> once only`,
    });
    const [a, b] = await Promise.all([
      postSlack(stack.base, "events", body),
      postSlack(stack.base, "events", body),
    ]);
    const retry = await postSlack(stack.base, "events", body, {
      headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" },
    });
    expect([a.status, b.status, retry.status]).toEqual([200, 200, 200]);
    const session = await slack.waitSession("C3", ts);
    await slack.waitForPost("the summary", "C3", ts, "Done: once only");
    const sessions = await stack.rt.database.db
      .select()
      .from(schema.sessions)
      .where(eq(schema.sessions.prompt, "once only"));
    expect(sessions.map((s) => s.id)).toEqual([session.id]);
    const inbox = await stack.rt.database.db
      .select()
      .from(schema.inboundEvents)
      .where(eq(schema.inboundEvents.deliveryId, body.event_id));
    expect(inbox).toHaveLength(1);
  });

  it("a bad signature or a stale timestamp is refused with 401 and starts nothing", async () => {
    const { stack } = slack;
    const ts = newTs();
    const body = mention({ teamId: TEAM_ID, channel: "C4", ts, text: `<@${BOT_USER_ID}> forged` });
    const forged = await postSlack(stack.base, "events", body, { secret: "not-the-secret" });
    const stale = await postSlack(stack.base, "events", body, {
      timestampS: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    const unsigned = await fetch(`${stack.base}/hooks/slack/events`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
    expect([forged.status, stale.status, unsigned.status]).toEqual([401, 401, 401]);
    await new Promise((r) => setTimeout(r, 500));
    const inbox = await stack.rt.database.db
      .select()
      .from(schema.inboundEvents)
      .where(eq(schema.inboundEvents.deliveryId, body.event_id));
    expect(inbox).toEqual([]);
    expect(await slack.sessionOf("C4", ts)).toBeUndefined();
  });

  it("a 429 from Slack delays the message by Retry-After; it still arrives", async () => {
    const { fake } = slack;
    fake.failNext("chat.postMessage", { status: 429, retryAfterS: 1 });
    const ts = newTs();
    await slack.postMention("C10", ts, "acme/app rate limited");
    await fake.waitFor(
      "the status message after the 429",
      () => slack.statusPosts("C10", ts).length === 1,
    );
    const limited = fake.calls.find((c) => c.method === "chat.postMessage" && c.status === 429)!;
    expect(limited.body.thread_ts).toBe(ts);
    expect(slack.statusPosts("C10", ts)[0]!.at - limited.at).toBeGreaterThanOrEqual(950);
    await slack.waitForPost("the summary", "C10", ts, "Done:");
  });
});
