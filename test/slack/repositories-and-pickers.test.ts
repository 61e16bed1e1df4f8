import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { TEAM_ID } from "../fixtures/fake-slack.ts";
import { newTs, postSlack, slashCommand } from "../helpers/slack.ts";
import { useSlackStack } from "../helpers/slack-stack.ts";

// Which repository a mention works on: a picker when several could be meant, its expiry, and
// /tandem repo.
describe("Slack: mention, follow in place, continue by replying", () => {
  const slack = useSlackStack();

  it("several repositories and none named: a picker, then the session starts on the one picked", async () => {
    const { stack, fake } = slack;
    expect((await slack.registerRepo("acme/api")).status).toBe(201);
    const ts = newTs();
    await slack.postMention("C6", ts, "write the changelog");
    const picker = await slack.waitPicker("C6", ts);
    const select = picker.body.blocks[0];
    expect(select.accessory.options.map((o: any) => o.value)).toEqual(["acme/api", "acme/app"]);
    expect(await slack.sessionOf("C6", ts)).toBeUndefined();

    const res = await slack.pickRepo("C6", ts, {
      messageTs: "1700000000.000001",
      blockId: select.block_id,
      repo: "acme/api",
    });
    expect(res.status).toBe(200);
    const session = await slack.waitSession("C6", ts);
    const [repo] = await stack.rt.database.db
      .select()
      .from(schema.repositories)
      .where(eq(schema.repositories.id, session.repositoryId));
    expect(repo!.name).toBe("acme/api");
    expect(session.prompt).toBe("write the changelog");
    await fake.waitFor(
      "the picker to be replaced",
      () =>
        fake.callsTo(
          "chat.update",
          (c) => c.body.ts === "1700000000.000001" && String(c.body.text).includes("acme/api"),
        ).length === 1,
    );
    await slack.waitForPost("the summary", "C6", ts, "1 file changed");

    // The same pick again (a double click) starts nothing more.
    await slack.pickRepo("C6", ts, {
      messageTs: "1700000000.000001",
      blockId: select.block_id,
      repo: "acme/app",
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(
      await stack.rt.database.db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.prompt, "write the changelog")),
    ).toHaveLength(1);
  });

  it("a picker left for more than an hour starts nothing and says so", async () => {
    const { stack, fake } = slack;
    const ts = newTs();
    await slack.postMention("C11", ts, "something later");
    const picker = await slack.waitPicker("C11", ts);
    const [pending] = await stack.rt.database.db
      .select()
      .from(schema.pendingRequests)
      .where(eq(schema.pendingRequests.threadKey, `${TEAM_ID}:C11:${ts}`));
    expect(pending!.expiresAt.getTime() - pending!.createdAt.getTime()).toBe(60 * 60_000);
    await stack.rt.database.db
      .update(schema.pendingRequests)
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where(eq(schema.pendingRequests.id, pending!.id));
    await slack.pickRepo("C11", ts, {
      messageTs: "1700000000.000011",
      blockId: picker.body.blocks[0].block_id,
      repo: "acme/app",
    });
    await fake.waitFor(
      "the expiry notice",
      () =>
        fake.callsTo(
          "chat.update",
          (c) => c.body.ts === "1700000000.000011" && String(c.body.text).includes("expired"),
        ).length === 1,
    );
    expect(await slack.sessionOf("C11", ts)).toBeUndefined();
  });

  it("/tandem repo sets the channel's repository; a named repository wins; an unknown one is said", async () => {
    const { stack, fake } = slack;
    const res = await postSlack(
      stack.base,
      "commands",
      slashCommand({ teamId: TEAM_ID, channel: "C7", text: "repo acme/api" }),
    );
    expect(res.status).toBe(200);
    await fake.waitFor(
      "the ephemeral answer",
      () =>
        fake.callsTo(
          "chat.postEphemeral",
          (c) => c.body.channel === "C7" && String(c.body.text).includes("acme/api"),
        ).length === 1,
    );

    const ts = newTs();
    await slack.postMention("C7", ts, "tidy up");
    const viaChannel = await slack.waitSession("C7", ts);
    const named = newTs();
    await slack.postMention("C7", named, "tidy up acme/app too");
    const viaText = await slack.waitSession("C7", named);
    const repoName = async (id: string) =>
      (
        await stack.rt.database.db
          .select()
          .from(schema.repositories)
          .where(eq(schema.repositories.id, id))
      )[0]!.name;
    expect(await repoName(viaChannel.repositoryId)).toBe("acme/api");
    expect(await repoName(viaText.repositoryId)).toBe("acme/app");

    const unknown = newTs();
    await slack.postMention("C7", unknown, "fix acme/nope");
    await slack.waitForPost(
      "the unknown repository message",
      "C7",
      unknown,
      "I don't know the repository acme/nope",
    );
  });
});
