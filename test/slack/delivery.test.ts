import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { BOT_USER_ID, TEAM_ID } from "../fixtures/fake-slack.ts";
import { failWithoutPublishing } from "../helpers/e2e.ts";
import { mention, newTs, postSlack } from "../helpers/slack.ts";
import { useSlackStack } from "../helpers/slack-stack.ts";

// Slack's deliveries: retried and repeated events, a failure mid-way, forged ones, a missed live
// feed, rate limits.
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

  it("a failure between the session and its thread binding leaves neither: the event's retry makes one session and one reply", async () => {
    const { stack } = slack;
    const { db } = stack.rt.database;
    // The binding insert for channel C9 fails once (a sequence counts across rolled-back transactions).
    await db.execute(sql`CREATE SEQUENCE test_binding_failures`);
    await db.execute(
      sql.raw(`CREATE FUNCTION test_fail_binding_once() RETURNS trigger AS $$ BEGIN
      IF NEW.thread_key LIKE '%:C9:%' AND nextval('test_binding_failures') = 1 THEN RAISE EXCEPTION 'injected: the binding insert fails once'; END IF;
      RETURN NEW; END $$ LANGUAGE plpgsql`),
    );
    await db.execute(
      sql`CREATE TRIGGER test_fail_binding_once BEFORE INSERT ON session_bindings FOR EACH ROW EXECUTE FUNCTION test_fail_binding_once()`,
    );
    try {
      const ts = newTs();
      expect((await slack.postMention("C9", ts, "bound once")).status).toBe(200);
      const session = await slack.waitSession("C9", ts);
      await slack.waitForPost("the summary", "C9", ts, "Done: bound once");
      const [{ failures }] = (await db.execute(
        sql`SELECT last_value AS failures FROM test_binding_failures`,
      )) as unknown as [{ failures: string }];
      expect(Number(failures)).toBeGreaterThanOrEqual(2); // the first attempt did fail
      const sessions = await db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.prompt, "bound once"));
      expect(sessions.map((s) => s.id)).toEqual([session.id]);
      expect(slack.statusPosts("C9", ts)).toHaveLength(1);
    } finally {
      await db.execute(sql`DROP TRIGGER test_fail_binding_once ON session_bindings`);
      await db.execute(sql`DROP FUNCTION test_fail_binding_once()`);
      await db.execute(sql`DROP SEQUENCE test_binding_failures`);
    }
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

  it("a turn end the live feed missed is posted from the event log, once", async () => {
    const { stack, fake } = slack;
    const ts = newTs();
    const channel = "CMISSED";
    await slack.postMention(channel, ts, "please write some notes in acme/app");
    const session = await slack.waitSession(channel, ts);
    await slack.waitStatus(session.id, "idle");
    // The session fails, and its status event is committed but never published (as when pub/sub drops it).
    await failWithoutPublishing(stack, session.id, "the disk caught fire");
    const failed = () =>
      fake
        .postsIn(channel, ts)
        .filter((c) => /^The session failed: the disk caught fire/.test(String(c.body.text)));
    await fake.waitFor("the missed failure", () => failed().length === 1, 10_000);
    await new Promise((r) => setTimeout(r, 1_500)); // a few more catch-up rounds
    expect(failed()).toHaveLength(1);
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
