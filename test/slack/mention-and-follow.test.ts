import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema, sessionUrl } from "@tandem/core";
import { TEAM_ID } from "../fixtures/fake-slack.ts";
import { blockActions, newTs, postSlack } from "../helpers/slack.ts";
import { useSlackStack } from "../helpers/slack-stack.ts";

// A mention starts a session followed in place in its thread, by one status message, to its end: a
// summary, a stop, a queue, a failure.
describe("Slack: mention, follow in place, continue by replying", () => {
  const slack = useSlackStack();

  it("a mention: 👀 at once, one status message edited in place, then the summary in the thread", async () => {
    const { stack, fake } = slack;
    const ts = newTs();
    const res = await slack.postMention("C1", ts, "please write some notes");
    expect(res.status).toBe(200);
    expect(res.ackMs).toBeLessThan(1_000);

    const session = await slack.waitSession("C1", ts);
    expect(session).toMatchObject({ source: "slack" });
    const url = sessionUrl("http://tandem.test", session.id);
    await fake.waitFor(
      "the 👀 reaction",
      () =>
        fake.callsTo("reactions.add", (c) => c.body.timestamp === ts && c.body.name === "eyes")
          .length === 1,
    );
    await slack.waitForPost("the summary", "C1", ts, "1 file changed");

    const [status, ...more] = slack.statusPosts("C1", ts);
    expect(more).toEqual([]); // one status message, never a stream of them
    expect(JSON.stringify(status!.body.blocks)).toContain(url);
    expect(status!.body.text).toContain(url);
    const statusTs = fake.calls.find((c) => c === status) && (await slack.statusTsOf(session.id));
    await fake.waitFor("the status to say it waits for input", () =>
      slack
        .updatesOf("C1", statusTs!)
        .some((c) => JSON.stringify(c.body.blocks).includes("Waiting for input")),
    );
    const edits = slack.updatesOf("C1", statusTs!);
    for (let i = 1; i < edits.length; i++)
      expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThan(500);

    const summary = fake
      .postsIn("C1", ts)
      .find((c) => String(c.body.text).includes("1 file changed"))!;
    expect(summary.body.text).toContain("Done: please write some notes");
    expect(summary.body.text).toContain("View session: " + url);
    expect(JSON.stringify(summary.body.blocks)).toContain("notes.txt");
    expect(JSON.stringify(summary.body.blocks)).toContain(`tandem/${session.id.slice(0, 8)}`);
    const stored = await stack.rt.database.db
      .select()
      .from(schema.outboundMessages)
      .where(eq(schema.outboundMessages.sessionId, session.id));
    expect(stored.map((r) => r.kind).sort()).toEqual([
      "status",
      expect.stringMatching(/^summary-/),
    ]);
    // Every call used the bot token, and the session's thread is bound.
    expect(
      fake.calls
        .filter((c) => c.method !== "auth.test")
        .every((c) => c.token === "xoxb-test-token"),
    ).toBe(true);
  });

  it("the Stop button stops the session and says so in the thread", async () => {
    const { stack, fake } = slack;
    const ts = newTs();
    await slack.postMention("C5", ts, "be slow about it");
    const session = await slack.waitSession("C5", ts);
    await slack.waitStatus(session.id, "running");
    await fake.waitFor("the status message", () => slack.statusPosts("C5", ts).length === 1);
    const statusTs = await slack.statusTsOf(session.id);
    await fake.waitFor("a running step in the status", () =>
      slack
        .updatesOf("C5", statusTs!)
        .some((c) => /Latest step: `step \d+`/.test(JSON.stringify(c.body.blocks))),
    );

    const res = await postSlack(
      stack.base,
      "interactions",
      blockActions({
        teamId: TEAM_ID,
        channel: "C5",
        messageTs: statusTs!,
        threadTs: ts,
        action: { action_id: "tandem_stop", value: session.id },
      }),
    );
    expect(res.status).toBe(200);
    await slack.waitStatus(session.id, "stopped");
    await slack.waitForPost("'Stopped by' in the thread", "C5", ts, "Stopped by <@U0ALICE>");
    await fake.waitFor("the status to say Stopped", () =>
      slack.updatesOf("C5", statusTs!).some((c) => {
        const blocks = JSON.stringify(c.body.blocks);
        return blocks.includes("Stopped") && !blocks.includes("tandem_stop");
      }),
    );
  });

  it("at the concurrency limit the status shows the queue position, then moves on when a slot frees", async () => {
    const { stack, fake } = slack;
    await stack.rt.database.db
      .update(schema.orgSettings)
      .set({ concurrencyLimit: 1 })
      .where(eq(schema.orgSettings.orgId, stack.rt.defaultOrgId));
    try {
      const first = newTs();
      await slack.postMention("C12", first, "acme/app be slow");
      const running = await slack.waitSession("C12", first);
      await slack.waitStatus(running.id, "running");
      const second = newTs();
      await slack.postMention("C12", second, "acme/app after that");
      const queued = await slack.waitSession("C12", second);
      await fake.waitFor("the queue position", () =>
        slack
          .statusPosts("C12", second)
          .some((c) => String(c.body.text).includes("Queued (position 1)")),
      );
      await stack.owner.request("POST", `/api/sessions/${running.id}/stop`);
      await slack.waitStatus(queued.id, "idle");
      const statusTs = await slack.statusTsOf(queued.id);
      await fake.waitFor("the status to move on", () =>
        slack
          .updatesOf("C12", statusTs)
          .some((c) => String(c.body.text).includes("Waiting for input")),
      );
    } finally {
      await stack.rt.database.db
        .update(schema.orgSettings)
        .set({ concurrencyLimit: 4 })
        .where(eq(schema.orgSettings.orgId, stack.rt.defaultOrgId));
    }
  });

  it("a DM starts a session; the agent's failure is said in the thread, with the link", async () => {
    const { fake } = slack;
    const ts = newTs();
    await slack.postMessage("D1", "please fail at this in acme/app", { channelType: "im", ts });
    const session = await slack.waitSession("D1", ts);
    await fake.waitFor("the problem", () =>
      fake
        .postsIn("D1", ts)
        .some((c) =>
          String(c.body.text).includes(
            "The agent ran into a problem: the model refused to continue",
          ),
        ),
    );
    const post = fake
      .postsIn("D1", ts)
      .find((c) => String(c.body.text).includes("ran into a problem"))!;
    expect(post.body.text).toContain(sessionUrl("http://tandem.test", session.id));
  });

  it("a sandbox that cannot start fails with a message in the thread", async () => {
    const { stack, fake } = slack;
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/gone",
      cloneUrl: "http://127.0.0.1:1/acme/gone.git",
      defaultBranch: "main",
    });
    const ts = newTs();
    await slack.postMention("C9", ts, "work on acme/gone");
    const session = await slack.waitSession("C9", ts);
    await fake.waitFor("the failure message", () =>
      fake
        .postsIn("C9", ts)
        .some((c) => /^The session failed: .*acme\/gone/.test(String(c.body.text))),
    );
    const post = fake
      .postsIn("C9", ts)
      .find((c) => String(c.body.text).startsWith("The session failed"))!;
    expect(post.body.text).toContain(sessionUrl("http://tandem.test", session.id));
  });
});
