import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, sessionUrl } from "@tandem/core";
import {
  BOT_USER_ID,
  OTHER_USER_ID,
  ping,
  postInteraction,
  slashCommand,
} from "./helpers/discord.ts";
import { ALICE, startDiscordStack, type DiscordStack } from "./helpers/discord-stack.ts";
import { until } from "./helpers/stack.ts";
import { waitForStatus } from "./helpers/e2e.ts";

const BOB = { id: OTHER_USER_ID, username: "bob" };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Discord", () => {
  let d: DiscordStack;
  const db = () => d.stack.rt.database.db;
  const url = (id: string) => sessionUrl(d.stack.rt.config.PUBLIC_URL, id);
  const statusIn = (threadId: string) =>
    d.botMessages(threadId).filter((m) => JSON.stringify(m.components).includes("tandem:stop:"));
  const sessionCount = async () => (await db().select().from(schema.sessions)).length;

  beforeAll(async () => {
    d = await startDiscordStack({
      registered: ["acme/app", "acme/api"],
      repos: {
        "acme/app": { "README.md": "# app\n" },
        "acme/api": { "README.md": "# api\n" },
      },
    });
  }, 120_000);
  afterAll(async () => {
    await d?.close();
  });

  it("logs in with the intents it needs and registers /tandem through the REST API", async () => {
    // Guilds (1) | GuildMessages (512) | MessageContent (32768)
    expect(d.fake.intents).toBe(1 | 512 | 32768);
    await until("the command", async () => d.fake.commands.length > 0, 10_000);
    const command = d.fake.commands[0];
    expect(command.name).toBe("tandem");
    expect(command.options.map((o: { name: string }) => o.name)).toEqual([
      "prompt",
      "repo",
      "profile",
    ]);
  });

  it("a mention opens a thread on that message and posts the status message there, with the View session link", async () => {
    const m = d.mention(d.channelId, "please write some notes in acme/api");
    const session = await d.sessionOf(m.id);
    expect(d.fake.threads.find((t) => t.id === m.id)).toMatchObject({
      parentId: d.channelId,
      messageId: m.id,
      name: "please write some notes in acme/api",
    });
    await waitForStatus(d.stack, session.id, "idle");
    await until("the summary", async () => d.botMessages(m.id).length >= 2, 10_000);
    const [status] = statusIn(m.id);
    expect(JSON.stringify(status!.current.components)).toContain(url(session.id));
    expect(status!.current.content).toContain("acme/api");
    expect(
      d.fake.callsTo("PUT", new RegExp(`/channels/${d.channelId}/messages/${m.id}/reactions/`)),
    ).toHaveLength(1);
    const summary = d.botMessages(m.id).at(-1)!;
    expect(summary.content).toContain("Done: please write some notes in acme/api");
    expect(summary.content).toContain("1 file changed");
    expect(summary.content).toContain(url(session.id));
  });

  it("a message in the session's thread continues it without a mention; talk elsewhere starts nothing", async () => {
    const m = d.mention(d.channelId, "write the first note in acme/app");
    const session = await d.sessionOf(m.id);
    await waitForStatus(d.stack, session.id, "idle");
    const before = await sessionCount();
    d.say(m.id, "now add a second note");
    d.say(d.channelId, "unrelated chatter in the channel");
    await until(
      "the follow-up in the session",
      async () =>
        (
          await db()
            .select({ data: schema.sessionEvents.data })
            .from(schema.sessionEvents)
            .where(eq(schema.sessionEvents.sessionId, session.id))
        ).some((e) => (e.data as { text?: string }).text === "now add a second note"),
      20_000,
    );
    await waitForStatus(d.stack, session.id, "idle");
    expect(await sessionCount()).toBe(before);
    expect(statusIn(m.id)).toHaveLength(1);
  });

  it("PING is answered with type 1; a bad or missing signature is 401 and nothing is stored", async () => {
    expect(await postInteraction(d.stack.base, ping())).toEqual({ status: 200, body: { type: 1 } });
    const rows = async () => (await db().select().from(schema.inboundEvents)).length;
    const before = await rows();
    const payload = slashCommand({ guildId: d.guild.id, channelId: d.channelId, prompt: "hi" });
    expect((await postInteraction(d.stack.base, payload, { badSignature: true })).status).toBe(401);
    expect((await postInteraction(d.stack.base, payload, { unsigned: true })).status).toBe(401);
    expect((await postInteraction(d.stack.base, ping(), { badSignature: true })).status).toBe(401);
    expect(await rows()).toBe(before);
  });

  it("/tandem answers with a deferred response within 3 s, then edits @original with the View session link and works in the thread it opens", async () => {
    const started = Date.now();
    const res = await d.command({ prompt: "write notes for the release", repo: "acme/app" });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ type: 5 });
    const interaction = d.fake.interactions.get(res.token)!;
    await until("@original", async () => interaction.originalId !== undefined, 10_000);
    const original = d.fake.message(interaction.originalId!)!;
    const session = await d.sessionOf(original.id);
    expect(d.fake.threads.find((t) => t.id === original.id)?.parentId).toBe(d.channelId);
    await until(
      "@original with the link",
      async () => JSON.stringify(d.fake.message(original.id)!.current).includes(url(session.id)),
      10_000,
    );
    await waitForStatus(d.stack, session.id, "idle");
    expect(statusIn(original.id)).toHaveLength(1);
    // The same interaction again (Discord's retry, a double submit) is one session.
    await postInteraction(
      d.stack.base,
      slashCommand({
        guildId: d.guild.id,
        channelId: d.channelId,
        prompt: "write notes for the release",
        repo: "acme/app",
        id: res.id,
        token: res.token,
      }),
    );
    await pause(1_500);
    const bound = await db()
      .select()
      .from(schema.sessionBindings)
      .where(eq(schema.sessionBindings.threadKey, `${d.guild.id}/${original.id}`));
    expect(bound).toHaveLength(1);
  });

  it("Stop works for the requester; another member is refused privately and the session goes on", async () => {
    const m = d.mention(d.channelId, "be slow about it in acme/app");
    const session = await d.sessionOf(m.id);
    await waitForStatus(d.stack, session.id, "running");
    await until("the status message", async () => statusIn(m.id).length > 0, 10_000);
    const status = statusIn(m.id)[0]!;
    const customId = `tandem:stop:${session.id}`;
    const refused = await d.press({ channelId: m.id, messageId: status.id, customId, user: BOB });
    expect(refused).toMatchObject({ status: 200, body: { type: 6 } });
    await until(
      "the refusal",
      async () => d.fake.ephemerals.some((e) => e.content.includes("Only the person who started")),
      10_000,
    );
    await pause(1_000);
    expect(
      (await db().query.sessions.findFirst({ where: eq(schema.sessions.id, session.id) }))?.status,
    ).toBe("running");
    expect(
      (await d.press({ channelId: m.id, messageId: status.id, customId, user: ALICE })).status,
    ).toBe(200);
    await waitForStatus(d.stack, session.id, "stopped");
    await until(
      "the status message says Stopped, without Stop",
      async () => {
        const now = d.fake.message(status.id)!.current;
        return (
          now.content.includes("Stopped") &&
          !JSON.stringify(now.components).includes("tandem:stop:")
        );
      },
      10_000,
    );
    expect(d.botMessages(m.id).some((x) => x.content.includes(`Stopped by <@${ALICE.id}>`))).toBe(
      true,
    );
  });

  it("a gateway reconnect mid-session resumes, replays what it missed, and starts nothing twice", async () => {
    const m = d.mention(d.channelId, "be slow about it in acme/app, then write");
    const session = await d.sessionOf(m.id);
    await waitForStatus(d.stack, session.id, "running");
    const sessions = await sessionCount();
    const identifies = d.fake.identifyCount;
    // The reconnect re-sends the last events the bot already had (the mention among them).
    await d.fake.forceReconnect({ duplicateLast: 20 });
    const gap = d.say(m.id, "said while the bot was away");
    await d.fake.waitForResume(1);
    await until(
      "the message from the gap in the session",
      async () =>
        (
          await db()
            .select({ data: schema.sessionEvents.data })
            .from(schema.sessionEvents)
            .where(eq(schema.sessionEvents.sessionId, session.id))
        ).some((e) => (e.data as { text?: string }).text === gap.content),
      20_000,
    );
    await pause(1_500);
    expect(d.fake.identifyCount).toBe(identifies);
    expect(await sessionCount()).toBe(sessions);
    expect(d.fake.threads.filter((t) => t.messageId === m.id)).toHaveLength(1);
    expect(statusIn(m.id)).toHaveLength(1);
    await d.press({
      channelId: m.id,
      messageId: statusIn(m.id)[0]!.id,
      customId: `tandem:stop:${session.id}`,
    });
    await waitForStatus(d.stack, session.id, "stopped");
  });

  it("a 429 on a status edit waits Discord's retry_after, then the edit lands", async () => {
    const m = d.mention(d.channelId, "be slow about it in acme/app");
    const session = await d.sessionOf(m.id);
    await until("the status message", async () => statusIn(m.id).length > 0, 10_000);
    const status = statusIn(m.id)[0]!;
    const path = new RegExp(`^/channels/${m.id}/messages/${status.id}$`);
    await until("a first edit", async () => d.fake.callsTo("PATCH", path).length > 0, 10_000);
    d.fake.failNext("PATCH", path, { retryAfter: 2 });
    await until(
      "the limited edit and the one after it",
      async () =>
        d.fake
          .callsTo("PATCH", path)
          .some((c, i, all) => c.status === 429 && all[i + 1]?.status === 200),
      20_000,
    );
    const calls = d.fake.callsTo("PATCH", path);
    const limited = calls.findIndex((c) => c.status === 429);
    expect(calls[limited + 1]!.at - calls[limited]!.at).toBeGreaterThanOrEqual(1_900);
    await d.press({ channelId: m.id, messageId: status.id, customId: `tandem:stop:${session.id}` });
    await waitForStatus(d.stack, session.id, "stopped");
    await until(
      "Stopped shown",
      async () => d.fake.message(status.id)!.current.content.includes("Stopped"),
      10_000,
    );
  });

  it("with two repositories and none named, a menu in the thread asks; the pick starts the work there", async () => {
    const m = d.mention(d.channelId, "write the changelog");
    await until(
      "the menu",
      async () =>
        d.botMessages(m.id).some((x) => JSON.stringify(x.components).includes("tandem:repo:")),
      15_000,
    );
    const menu = d
      .botMessages(m.id)
      .find((x) => JSON.stringify(x.components).includes("tandem:repo:"))!;
    const select = (
      menu.components[0] as {
        components: Array<{ custom_id: string; options: Array<{ value: string }> }>;
      }
    ).components[0]!;
    expect(select.options.map((o) => o.value).sort()).toEqual(["acme/api", "acme/app"]);
    const res = await d.pick({
      channelId: m.id,
      messageId: menu.id,
      customId: select.custom_id,
      values: ["acme/api"],
    });
    expect(res).toMatchObject({ status: 200, body: { type: 6 } });
    const session = await d.sessionOf(m.id);
    const repo = await db().query.repositories.findFirst({
      where: eq(schema.repositories.id, session.repositoryId),
    });
    expect(repo?.name).toBe("acme/api");
    await until(
      "the menu replaced",
      async () => d.fake.message(menu.id)!.current.content.includes("picked by"),
      10_000,
    );
    await waitForStatus(d.stack, session.id, "idle");
  });

  it("/tandem repo: sets the channel's repository (answered privately); a mention there then works in it", async () => {
    const eng = d.guild.channels[1]!.id;
    const res = await d.command({ channelId: eng, repo: "acme/api" });
    expect(res.body).toEqual({ type: 5, data: { flags: 64 } });
    const interaction = d.fake.interactions.get(res.token)!;
    await until(
      "the answer",
      async () =>
        interaction.originalId !== undefined &&
        d.fake.message(interaction.originalId)!.current.content.includes("will work in `acme/api`"),
      10_000,
    );
    const m = d.mention(eng, "write notes");
    const session = await d.sessionOf(m.id);
    const repo = await db().query.repositories.findFirst({
      where: eq(schema.repositories.id, session.repositoryId),
    });
    expect(repo?.name).toBe("acme/api");
    await waitForStatus(d.stack, session.id, "idle");
  });

  it("a long answer is split at 2,000 characters; other bots and the bot's own messages start nothing", async () => {
    const long = `write ${"word ".repeat(700)}in acme/app`;
    const res = await d.command({ prompt: long });
    const interaction = d.fake.interactions.get(res.token)!;
    await until("@original", async () => interaction.originalId !== undefined, 10_000);
    const session = await d.sessionOf(interaction.originalId!);
    await waitForStatus(d.stack, session.id, "idle");
    await until(
      "the summary parts",
      async () => d.botMessages(interaction.originalId!).length >= 3,
      10_000,
    );
    const parts = d
      .botMessages(interaction.originalId!)
      .filter((x) => !JSON.stringify(x.components).includes("tandem:stop:"));
    expect(parts.length).toBeGreaterThanOrEqual(2);
    for (const p of parts) expect(p.content.length).toBeLessThanOrEqual(2000);
    expect(parts.map((p) => p.content).join("")).toContain("word word");
    const before = await sessionCount();
    d.fake.postMessage({
      guildId: d.guild.id,
      channelId: d.channelId,
      author: { id: "100000000000000099", username: "ci-bot", bot: true },
      content: `<@${BOT_USER_ID}> write notes`,
    });
    await pause(1_500);
    expect(await sessionCount()).toBe(before);
  });

  it("a channel where Discord refuses the bot a thread gets a reply saying so, and no session", async () => {
    const before = await sessionCount();
    d.fake.failNext("POST", /^\/channels\/\d+\/messages\/\d+\/threads$/, { status: 403 });
    const m = d.mention(d.channelId, "write notes in acme/app");
    await until(
      "the reply",
      async () =>
        d
          .botMessages(d.channelId)
          .some(
            (x) =>
              x.messageReference?.message_id === m.id &&
              x.content.includes("Create Public Threads"),
          ),
      10_000,
    );
    await pause(1_000);
    expect(await sessionCount()).toBe(before);
  });

  it("Settings → Discord lists the connected server for the org's admins, and sets its role", async () => {
    const { status, body } = await d.stack.owner.request("GET", "/api/discord");
    expect(status).toBe(200);
    expect(body.app.interactionsUrl).toBe(
      `${d.stack.rt.config.PUBLIC_URL.replace(/\/$/, "")}/hooks/discord/interactions`,
    );
    expect(body.app.installUrl).toContain("scope=bot+applications.commands");
    const guild = body.guilds.find((g: { id: string }) => g.id === d.guild.id);
    expect(guild).toMatchObject({ name: "Acme", allowedRole: null });
    expect(guild.channels).toEqual([
      { id: d.guild.channels[1]!.id, name: "eng", repository: "acme/api" },
    ]);
    const put = await d.stack.owner.request("PUT", `/api/discord/guilds/${d.guild.id}`, {
      allowedRole: "Engineers",
    });
    expect(put.status).toBe(200);
    expect(
      (await d.stack.owner.request("PUT", `/api/discord/guilds/${d.guild.id}`, { allowedRole: 3 }))
        .status,
    ).toBe(400);
    expect(
      (await d.stack.owner.request("PUT", `/api/discord/guilds/999`, { allowedRole: "x" })).status,
    ).toBe(404);
    // With the role required, someone without it is told so, and nothing starts.
    const before = await sessionCount();
    const m = d.mention(d.channelId, "write notes in acme/app", BOB);
    await until(
      "the refusal",
      async () =>
        d
          .botMessages(d.channelId)
          .some(
            (x) =>
              x.messageReference?.message_id === m.id &&
              x.content.includes("You need the **Engineers** role"),
          ),
      10_000,
    );
    const engineers = d.guild.roles.find((r) => r.name === "Engineers")!;
    const allowed = d.mention(d.channelId, "write notes in acme/app", {
      ...BOB,
      id: "100000000000000077",
      username: "carol",
      roles: [engineers.id],
    });
    const session = await d.sessionOf(allowed.id);
    expect(await sessionCount()).toBe(before + 1);
    await waitForStatus(d.stack, session.id, "idle");
    const cmd = await d.command({ prompt: "write notes", user: BOB });
    expect(cmd.status).toBe(200);
    await until(
      "the private refusal",
      async () =>
        d.fake.ephemerals.some((e) => e.ephemeralFor === BOB.id && e.content.includes("Engineers")),
      10_000,
    );
    await d.stack.owner.request("PUT", `/api/discord/guilds/${d.guild.id}`, { allowedRole: null });
  });
});
