import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { BOT_USER_ID } from "../fixtures/fake-slack.ts";
import { newTs } from "../helpers/slack.ts";
import { useSlackStack } from "../helpers/slack-stack.ts";
import { until } from "../helpers/stack.ts";

// The thread is the session: replies continue it, an ended one says so, a mention in a thread
// brings the thread along.
describe("Slack: mention, follow in place, continue by replying", () => {
  const slack = useSlackStack();

  it("a reply in the thread continues the same session; bots and web messages are not echoed", async () => {
    const { stack, fake } = slack;
    const ts = newTs();
    await slack.postMention("C2", ts, "look around");
    const session = await slack.waitSession("C2", ts);
    await slack.waitForPost("the first summary", "C2", ts, "Done: look around");

    // Another bot in the thread, and the bot itself: ignored.
    await slack.postMessage("C2", "I am a bot", { threadTs: ts, botId: "BOTHER" });
    await slack.postMessage("C2", "my own words", { threadTs: ts, user: BOT_USER_ID });
    // Typed in the workbench: the agent gets it, the thread does not see it.
    const web = await stack.owner.request("POST", `/api/sessions/${session.id}/messages`, {
      text: "a secret from the workbench",
    });
    expect(web.status).toBe(202);
    await fake.waitFor(
      "the workbench turn's summary",
      () =>
        fake.postsIn("C2", ts).filter((c) => String(c.body.text).includes("Done:")).length === 2,
    );

    const reply = newTs();
    await slack.postMessage("C2", "now do the next thing", { threadTs: ts, ts: reply });
    await slack.waitForPost("the reply's summary", "C2", ts, "Done: now do the next thing");
    await fake.waitFor(
      "👀 on the reply",
      () => fake.callsTo("reactions.add", (c) => c.body.timestamp === reply).length === 1,
    );

    expect((await slack.sessionOf("C2", ts))!.id).toBe(session.id);
    const turns = await stack.rt.database.db
      .select()
      .from(schema.sessionTurns)
      .where(eq(schema.sessionTurns.sessionId, session.id));
    expect(turns).toHaveLength(3);
    expect(slack.statusPosts("C2", ts)).toHaveLength(1);
    // Only the agent's own answer (its summary) may quote what it was told.
    const posted = fake.calls
      .filter((c) => !String(c.body.text ?? "").startsWith("Done:"))
      .map((c) => c.body);
    expect(JSON.stringify(posted)).not.toContain("a secret from the workbench");
    expect(JSON.stringify(fake.calls.map((c) => c.body))).not.toContain("I am a bot");

    // Asked for, a workbench message is posted in the thread too.
    const echoed = await stack.owner.request("POST", `/api/sessions/${session.id}/messages`, {
      text: "please also say this in Slack",
      echo: true,
    });
    expect(echoed.status).toBe(202);
    await fake.waitFor(
      "the echo",
      () =>
        fake.callsTo("chat.postMessage", (c) =>
          String(c.body.text).includes("please also say this in Slack"),
        ).length === 1,
    );
    const echo = fake.callsTo("chat.postMessage", (c) =>
      String(c.body.text).includes("please also say this in Slack"),
    )[0]!;
    expect(echo.body).toMatchObject({
      channel: "C2",
      thread_ts: ts,
      text: "From the workbench: please also say this in Slack",
    });
  });

  it("in a thread whose session ended, a reply is told so and a mention starts a new session there", async () => {
    const { stack } = slack;
    const ts = newTs();
    await slack.postMention("C13", ts, "first go");
    const first = await slack.waitSession("C13", ts);
    await slack.waitStatus(first.id, "idle");
    await stack.owner.request("POST", `/api/sessions/${first.id}/stop`);
    await slack.waitStatus(first.id, "stopped");

    await slack.postMessage("C13", "are you there?", { threadTs: ts });
    await slack.waitForPost("the ended notice", "C13", ts, "This session has ended");
    await slack.postMention("C13", newTs(), "second go", { threadTs: ts });
    const second = await until(
      "a new session in the thread",
      async () => {
        const s = await slack.sessionOf("C13", ts);
        return s && s.id !== first.id ? s : undefined;
      },
      15_000,
    );
    expect(second.prompt).toContain("second go");
    await slack.waitForPost("the new session's summary", "C13", ts, "Done: second go");
    expect(slack.statusPosts("C13", ts)).toHaveLength(2); // one status message per session
  });

  it("a mention inside a thread gives the agent the thread so far, with its authors", async () => {
    const { fake } = slack;
    const parent = newTs();
    const earlier = newTs();
    fake.users.set("U0BOB", { name: "bob", real_name: "Bob Builder" });
    fake.threads.set(`C8:${parent}`, [
      { ts: parent, user: "U0BOB", text: "the login page is broken on Safari" },
      { ts: earlier, user: "U0ALICE", text: "I see it too, only after logout" },
    ]);
    const ts = newTs();
    await slack.postMention("C8", ts, "can you fix this in acme/app?", { threadTs: parent });
    const session = await slack.waitSession("C8", parent);
    expect(session.prompt).toContain("can you fix this in acme/app?");
    expect(session.prompt).toContain("Bob Builder (<@U0BOB>): the login page is broken on Safari");
    expect(session.prompt).toContain("I see it too, only after logout");
    await fake.waitFor(
      "the status message in the parent thread",
      () => slack.statusPosts("C8", parent).length === 1,
    );
  });
});
