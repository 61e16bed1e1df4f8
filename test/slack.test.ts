import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { startBot } from "@tandem/bot";
import { BOT_EVENTS, BOT_SCOPES } from "../bot/src/slack/config.ts";
import { commandAdapter, decryptSecret, schema, sessionUrl } from "@tandem/core";
import { FakeSlack, BOT_USER_ID, TEAM_ID } from "./fixtures/fake-slack.ts";
import { startGitHttpServer } from "./fixtures/git-http-server.ts";
import {
  blockActions,
  message,
  mention,
  newTs,
  postSlack,
  SIGNING_SECRET,
  slashCommand,
} from "./helpers/slack.ts";
import { startStack, TEST_ENCRYPTION_KEY, until, type Stack } from "./helpers/stack.ts";

const AGENT = ["node", new URL("./fixtures/slack-agent.mjs", import.meta.url).pathname];
const GIT = { username: "tandem-test", password: "test-git-password" };

describe("Slack: mention, follow in place, continue by replying", () => {
  let fake: FakeSlack;
  let git: Awaited<ReturnType<typeof startGitHttpServer>>;
  let stack: Stack;

  const sessionOf = async (channel: string, threadTs: string) => {
    const [row] = await stack.rt.database.db
      .select({ session: schema.sessions })
      .from(schema.sessionBindings)
      .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
      .where(eq(schema.sessionBindings.threadKey, `${TEAM_ID}:${channel}:${threadTs}`));
    return row?.session;
  };
  const waitSession = (channel: string, threadTs: string) =>
    until("the thread's session", () => sessionOf(channel, threadTs), 15_000);
  const isStatus = (c: { body: Record<string, any> }) =>
    JSON.stringify(c.body.blocks ?? []).includes("tandem_stop") ||
    String(c.body.text).startsWith("Tandem session");
  const statusPosts = (channel: string, threadTs: string) =>
    fake.postsIn(channel, threadTs).filter(isStatus);
  const updatesOf = (channel: string, ts: string) =>
    fake.callsTo("chat.update", (c) => c.body.channel === channel && c.body.ts === ts);
  const registerRepo = (name: string) =>
    stack.owner.request("POST", "/api/repositories", {
      name,
      cloneUrl: git.url(name),
      defaultBranch: "main",
      credential: GIT,
    });
  const waitStatus = (id: string, status: string) =>
    until(
      `session ${status}`,
      async () => {
        const [row] = await stack.rt.database.db
          .select()
          .from(schema.sessions)
          .where(eq(schema.sessions.id, id));
        return row?.status === status;
      },
      20_000,
    );

  beforeAll(async () => {
    fake = await new FakeSlack().listen();
    git = await startGitHttpServer(GIT);
    git.createRepo("acme/app", { "README.md": "# app\n", "hello.txt": "hello\n" });
    git.createRepo("acme/api", { "README.md": "# api\n" });
    stack = await startStack(
      "postgres",
      {
        SLACK_API_URL: fake.url,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_BOT_TOKEN: "xoxb-test-token",
        SLACK_CLIENT_ID: "client-id",
        SLACK_CLIENT_SECRET: "client-secret",
        SLACK_APP_TOKEN: "xapp-test-token",
        SANDBOX_PROVIDER: "local",
      },
      { agent: commandAdapter(AGENT) },
    );
    expect((await registerRepo("acme/app")).status).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await git?.close();
    await fake?.close();
  });

  it("serves the app manifest with this deployment's URLs and the scopes the install asks for", async () => {
    const res = await fetch(`${stack.base}/slack/manifest.json`);
    expect(res.status).toBe(200);
    const manifest = (await res.json()) as any;
    expect(manifest.settings.event_subscriptions.request_url).toBe(
      "http://tandem.test/hooks/slack/events",
    );
    expect(manifest.settings.interactivity.request_url).toBe(
      "http://tandem.test/hooks/slack/interactions",
    );
    expect(manifest.features.slash_commands[0]).toMatchObject({
      command: "/tandem",
      url: "http://tandem.test/hooks/slack/commands",
    });
    expect(manifest.oauth_config.redirect_urls).toEqual([
      "http://tandem.test/slack/oauth_redirect",
    ]);
    expect(manifest.oauth_config.scopes.bot).toEqual(BOT_SCOPES);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(BOT_EVENTS);
  });

  it("answers url_verification", async () => {
    const res = await postSlack(stack.base, "events", {
      type: "url_verification",
      token: "x",
      challenge: "the-challenge",
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ challenge: "the-challenge" });
  });

  it("a mention: 👀 at once, one status message edited in place, then the summary in the thread", async () => {
    const ts = newTs();
    const res = await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "C1",
        ts,
        text: `<@${BOT_USER_ID}> please write some notes`,
      }),
    );
    expect(res.status).toBe(200);
    expect(res.ackMs).toBeLessThan(1_000);

    const session = await waitSession("C1", ts);
    expect(session).toMatchObject({ source: "slack" });
    const url = sessionUrl("http://tandem.test", session.id);
    await fake.waitFor(
      "the 👀 reaction",
      () =>
        fake.callsTo("reactions.add", (c) => c.body.timestamp === ts && c.body.name === "eyes")
          .length === 1,
    );
    await fake.waitFor("the summary", () =>
      fake.postsIn("C1", ts).some((c) => String(c.body.text).includes("1 file changed")),
    );

    const [status, ...more] = statusPosts("C1", ts);
    expect(more).toEqual([]); // one status message, never a stream of them
    expect(JSON.stringify(status!.body.blocks)).toContain(url);
    expect(status!.body.text).toContain(url);
    const statusTs =
      fake.calls.find((c) => c === status) &&
      (await until(
        "the status ts",
        async () =>
          (
            await stack.rt.database.db
              .select()
              .from(schema.outboundMessages)
              .where(eq(schema.outboundMessages.sessionId, session.id))
          ).find((r) => r.kind === "status")?.externalId,
      ));
    await fake.waitFor("the status to say it waits for input", () =>
      updatesOf("C1", statusTs!).some((c) =>
        JSON.stringify(c.body.blocks).includes("Waiting for input"),
      ),
    );
    const edits = updatesOf("C1", statusTs!);
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

  it("a reply in the thread continues the same session; bots and web messages are not echoed", async () => {
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel: "C2", ts, text: `<@${BOT_USER_ID}> look around` }),
    );
    const session = await waitSession("C2", ts);
    await fake.waitFor("the first summary", () =>
      fake.postsIn("C2", ts).some((c) => String(c.body.text).includes("Done: look around")),
    );

    // Another bot in the thread, and the bot itself: ignored.
    await postSlack(
      stack.base,
      "events",
      message({
        teamId: TEAM_ID,
        channel: "C2",
        threadTs: ts,
        text: "I am a bot",
        botId: "BOTHER",
      }),
    );
    await postSlack(
      stack.base,
      "events",
      message({
        teamId: TEAM_ID,
        channel: "C2",
        threadTs: ts,
        text: "my own words",
        user: BOT_USER_ID,
      }),
    );
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
    await postSlack(
      stack.base,
      "events",
      message({
        teamId: TEAM_ID,
        channel: "C2",
        threadTs: ts,
        ts: reply,
        text: "now do the next thing",
      }),
    );
    await fake.waitFor("the reply's summary", () =>
      fake
        .postsIn("C2", ts)
        .some((c) => String(c.body.text).includes("Done: now do the next thing")),
    );
    await fake.waitFor(
      "👀 on the reply",
      () => fake.callsTo("reactions.add", (c) => c.body.timestamp === reply).length === 1,
    );

    expect((await sessionOf("C2", ts))!.id).toBe(session.id);
    const turns = await stack.rt.database.db
      .select()
      .from(schema.sessionTurns)
      .where(eq(schema.sessionTurns.sessionId, session.id));
    expect(turns).toHaveLength(3);
    expect(statusPosts("C2", ts)).toHaveLength(1);
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

  it("a retried or repeated delivery starts one session", async () => {
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
    const session = await waitSession("C3", ts);
    await fake.waitFor("the summary", () =>
      fake.postsIn("C3", ts).some((c) => String(c.body.text).includes("Done: once only")),
    );
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
      expect(
        (
          await postSlack(
            stack.base,
            "events",
            mention({ teamId: TEAM_ID, channel: "C9", ts, text: `<@${BOT_USER_ID}> bound once` }),
          )
        ).status,
      ).toBe(200);
      const session = await waitSession("C9", ts);
      await fake.waitFor("the summary", () =>
        fake.postsIn("C9", ts).some((c) => String(c.body.text).includes("Done: bound once")),
      );
      const [{ failures }] = (await db.execute(
        sql`SELECT last_value AS failures FROM test_binding_failures`,
      )) as unknown as [{ failures: string }];
      expect(Number(failures)).toBeGreaterThanOrEqual(2); // the first attempt did fail
      const sessions = await db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.prompt, "bound once"));
      expect(sessions.map((s) => s.id)).toEqual([session.id]);
      expect(statusPosts("C9", ts)).toHaveLength(1);
    } finally {
      await db.execute(sql`DROP TRIGGER test_fail_binding_once ON session_bindings`);
      await db.execute(sql`DROP FUNCTION test_fail_binding_once()`);
      await db.execute(sql`DROP SEQUENCE test_binding_failures`);
    }
  });

  it("a bad signature or a stale timestamp is refused with 401 and starts nothing", async () => {
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
    expect(await sessionOf("C4", ts)).toBeUndefined();
  });

  it("the Stop button stops the session and says so in the thread", async () => {
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel: "C5", ts, text: `<@${BOT_USER_ID}> be slow about it` }),
    );
    const session = await waitSession("C5", ts);
    await waitStatus(session.id, "running");
    await fake.waitFor("the status message", () => statusPosts("C5", ts).length === 1);
    const statusTs = await until(
      "the status ts",
      async () =>
        (
          await stack.rt.database.db
            .select()
            .from(schema.outboundMessages)
            .where(eq(schema.outboundMessages.sessionId, session.id))
        ).find((r) => r.kind === "status")?.externalId,
    );
    await fake.waitFor("a running step in the status", () =>
      updatesOf("C5", statusTs!).some((c) =>
        /Latest step: `step \d+`/.test(JSON.stringify(c.body.blocks)),
      ),
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
    await waitStatus(session.id, "stopped");
    await fake.waitFor("'Stopped by' in the thread", () =>
      fake.postsIn("C5", ts).some((c) => String(c.body.text).includes("Stopped by <@U0ALICE>")),
    );
    await fake.waitFor("the status to say Stopped", () =>
      updatesOf("C5", statusTs!).some((c) => {
        const blocks = JSON.stringify(c.body.blocks);
        return blocks.includes("Stopped") && !blocks.includes("tandem_stop");
      }),
    );
  });

  it("in a thread whose session ended, a reply is told so and a mention starts a new session there", async () => {
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel: "C13", ts, text: `<@${BOT_USER_ID}> first go` }),
    );
    const first = await waitSession("C13", ts);
    await waitStatus(first.id, "idle");
    await stack.owner.request("POST", `/api/sessions/${first.id}/stop`);
    await waitStatus(first.id, "stopped");

    await postSlack(
      stack.base,
      "events",
      message({ teamId: TEAM_ID, channel: "C13", threadTs: ts, text: "are you there?" }),
    );
    await fake.waitFor("the ended notice", () =>
      fake.postsIn("C13", ts).some((c) => String(c.body.text).includes("This session has ended")),
    );
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "C13",
        threadTs: ts,
        text: `<@${BOT_USER_ID}> second go`,
      }),
    );
    const second = await until(
      "a new session in the thread",
      async () => {
        const s = await sessionOf("C13", ts);
        return s && s.id !== first.id ? s : undefined;
      },
      15_000,
    );
    expect(second.prompt).toContain("second go");
    await fake.waitFor("the new session's summary", () =>
      fake.postsIn("C13", ts).some((c) => String(c.body.text).includes("Done: second go")),
    );
    expect(statusPosts("C13", ts)).toHaveLength(2); // one status message per session
  });

  it("several repositories and none named: a picker, then the session starts on the one picked", async () => {
    expect((await registerRepo("acme/api")).status).toBe(201);
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "C6",
        ts,
        text: `<@${BOT_USER_ID}> write the changelog`,
      }),
    );
    await fake.waitFor("the picker", () =>
      fake
        .postsIn("C6", ts)
        .some((c) => JSON.stringify(c.body.blocks ?? []).includes("tandem_pick_repo")),
    );
    const picker = fake
      .postsIn("C6", ts)
      .find((c) => JSON.stringify(c.body.blocks ?? []).includes("tandem_pick_repo"))!;
    const select = picker.body.blocks[0];
    expect(select.accessory.options.map((o: any) => o.value)).toEqual(["acme/api", "acme/app"]);
    expect(await sessionOf("C6", ts)).toBeUndefined();

    const res = await postSlack(
      stack.base,
      "interactions",
      blockActions({
        teamId: TEAM_ID,
        channel: "C6",
        messageTs: "1700000000.000001",
        threadTs: ts,
        action: { action_id: "tandem_pick_repo", block_id: select.block_id, selected: "acme/api" },
      }),
    );
    expect(res.status).toBe(200);
    const session = await waitSession("C6", ts);
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
    await fake.waitFor("the summary", () =>
      fake.postsIn("C6", ts).some((c) => String(c.body.text).includes("1 file changed")),
    );

    // The same pick again (a double click) starts nothing more.
    await postSlack(
      stack.base,
      "interactions",
      blockActions({
        teamId: TEAM_ID,
        channel: "C6",
        messageTs: "1700000000.000001",
        threadTs: ts,
        action: { action_id: "tandem_pick_repo", block_id: select.block_id, selected: "acme/app" },
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(
      await stack.rt.database.db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.prompt, "write the changelog")),
    ).toHaveLength(1);
  });

  it("a picker left for more than an hour starts nothing and says so", async () => {
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel: "C11", ts, text: `<@${BOT_USER_ID}> something later` }),
    );
    await fake.waitFor("the picker", () =>
      fake
        .postsIn("C11", ts)
        .some((c) => JSON.stringify(c.body.blocks ?? []).includes("tandem_pick_repo")),
    );
    const picker = fake
      .postsIn("C11", ts)
      .find((c) => JSON.stringify(c.body.blocks ?? []).includes("tandem_pick_repo"))!;
    const [pending] = await stack.rt.database.db
      .select()
      .from(schema.pendingRequests)
      .where(eq(schema.pendingRequests.threadKey, `${TEAM_ID}:C11:${ts}`));
    expect(pending!.expiresAt.getTime() - pending!.createdAt.getTime()).toBe(60 * 60_000);
    await stack.rt.database.db
      .update(schema.pendingRequests)
      .set({ expiresAt: new Date(Date.now() - 1_000) })
      .where(eq(schema.pendingRequests.id, pending!.id));
    await postSlack(
      stack.base,
      "interactions",
      blockActions({
        teamId: TEAM_ID,
        channel: "C11",
        messageTs: "1700000000.000011",
        threadTs: ts,
        action: {
          action_id: "tandem_pick_repo",
          block_id: picker.body.blocks[0].block_id,
          selected: "acme/app",
        },
      }),
    );
    await fake.waitFor(
      "the expiry notice",
      () =>
        fake.callsTo(
          "chat.update",
          (c) => c.body.ts === "1700000000.000011" && String(c.body.text).includes("expired"),
        ).length === 1,
    );
    expect(await sessionOf("C11", ts)).toBeUndefined();
  });

  it("at the concurrency limit the status shows the queue position, then moves on when a slot frees", async () => {
    await stack.rt.database.db
      .update(schema.orgSettings)
      .set({ concurrencyLimit: 1 })
      .where(eq(schema.orgSettings.orgId, stack.rt.defaultOrgId));
    try {
      const first = newTs();
      await postSlack(
        stack.base,
        "events",
        mention({
          teamId: TEAM_ID,
          channel: "C12",
          ts: first,
          text: `<@${BOT_USER_ID}> acme/app be slow`,
        }),
      );
      const running = await waitSession("C12", first);
      await waitStatus(running.id, "running");
      const second = newTs();
      await postSlack(
        stack.base,
        "events",
        mention({
          teamId: TEAM_ID,
          channel: "C12",
          ts: second,
          text: `<@${BOT_USER_ID}> acme/app after that`,
        }),
      );
      const queued = await waitSession("C12", second);
      await fake.waitFor("the queue position", () =>
        statusPosts("C12", second).some((c) => String(c.body.text).includes("Queued (position 1)")),
      );
      await stack.owner.request("POST", `/api/sessions/${running.id}/stop`);
      await waitStatus(queued.id, "idle");
      const statusTs = (
        await stack.rt.database.db
          .select()
          .from(schema.outboundMessages)
          .where(eq(schema.outboundMessages.sessionId, queued.id))
      ).find((r) => r.kind === "status")!.externalId!;
      await fake.waitFor("the status to move on", () =>
        updatesOf("C12", statusTs).some((c) => String(c.body.text).includes("Waiting for input")),
      );
    } finally {
      await stack.rt.database.db
        .update(schema.orgSettings)
        .set({ concurrencyLimit: 4 })
        .where(eq(schema.orgSettings.orgId, stack.rt.defaultOrgId));
    }
  });

  it("/tandem repo sets the channel's repository; a named repository wins; an unknown one is said", async () => {
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
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel: "C7", ts, text: `<@${BOT_USER_ID}> tidy up` }),
    );
    const viaChannel = await waitSession("C7", ts);
    const named = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "C7",
        ts: named,
        text: `<@${BOT_USER_ID}> tidy up acme/app too`,
      }),
    );
    const viaText = await waitSession("C7", named);
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
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "C7",
        ts: unknown,
        text: `<@${BOT_USER_ID}> fix acme/nope`,
      }),
    );
    await fake.waitFor("the unknown repository message", () =>
      fake
        .postsIn("C7", unknown)
        .some((c) => String(c.body.text).includes("I don't know the repository acme/nope")),
    );
  });

  it("a mention inside a thread gives the agent the thread so far, with its authors", async () => {
    const parent = newTs();
    const earlier = newTs();
    fake.users.set("U0BOB", { name: "bob", real_name: "Bob Builder" });
    fake.threads.set(`C8:${parent}`, [
      { ts: parent, user: "U0BOB", text: "the login page is broken on Safari" },
      { ts: earlier, user: "U0ALICE", text: "I see it too, only after logout" },
    ]);
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "C8",
        ts,
        threadTs: parent,
        text: `<@${BOT_USER_ID}> can you fix this in acme/app?`,
      }),
    );
    const session = await waitSession("C8", parent);
    expect(session.prompt).toContain("can you fix this in acme/app?");
    expect(session.prompt).toContain("Bob Builder (<@U0BOB>): the login page is broken on Safari");
    expect(session.prompt).toContain("I see it too, only after logout");
    await fake.waitFor(
      "the status message in the parent thread",
      () => statusPosts("C8", parent).length === 1,
    );
  });

  it("a DM starts a session; the agent's failure is said in the thread, with the link", async () => {
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      message({
        teamId: TEAM_ID,
        channel: "D1",
        channelType: "im",
        ts,
        text: "please fail at this in acme/app",
      }),
    );
    const session = await waitSession("D1", ts);
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
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/gone",
      cloneUrl: "http://127.0.0.1:1/acme/gone.git",
      defaultBranch: "main",
    });
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel: "C9", ts, text: `<@${BOT_USER_ID}> work on acme/gone` }),
    );
    const session = await waitSession("C9", ts);
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

  it("a turn end the live feed missed is posted from the event log, once", async () => {
    const ts = newTs();
    const channel = "CMISSED";
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel,
        ts,
        text: `<@${BOT_USER_ID}> please write some notes in acme/app`,
      }),
    );
    const session = await waitSession(channel, ts);
    await waitStatus(session.id, "idle");
    const { db } = stack.rt.database;
    // The session fails, and its status event is committed but never published (as when pub/sub drops it).
    await db.transaction(async (tx) => {
      const [row] = await tx
        .update(schema.sessions)
        .set({
          lastEventSeq: sql`${schema.sessions.lastEventSeq} + 1`,
          status: "failed",
          error: "the disk caught fire",
          updatedAt: new Date(Date.now() - 10_000),
        })
        .where(eq(schema.sessions.id, session.id))
        .returning();
      await tx.insert(schema.sessionEvents).values({
        sessionId: session.id,
        seq: row!.lastEventSeq,
        type: "status",
        data: { type: "status", status: "failed" },
      });
    });
    const failed = () =>
      fake
        .postsIn(channel, ts)
        .filter((c) => /^The session failed: the disk caught fire/.test(String(c.body.text)));
    await fake.waitFor("the missed failure", () => failed().length === 1, 10_000);
    await new Promise((r) => setTimeout(r, 1_500)); // a few more catch-up rounds
    expect(failed()).toHaveLength(1);
  });

  it("a 429 from Slack delays the message by Retry-After; it still arrives", async () => {
    fake.failNext("chat.postMessage", { status: 429, retryAfterS: 1 });
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "C10",
        ts,
        text: `<@${BOT_USER_ID}> acme/app rate limited`,
      }),
    );
    await fake.waitFor(
      "the status message after the 429",
      () => statusPosts("C10", ts).length === 1,
    );
    const limited = fake.calls.find((c) => c.method === "chat.postMessage" && c.status === 429)!;
    expect(limited.body.thread_ts).toBe(ts);
    expect(statusPosts("C10", ts)[0]!.at - limited.at).toBeGreaterThanOrEqual(950);
    await fake.waitFor("the summary", () =>
      fake.postsIn("C10", ts).some((c) => String(c.body.text).includes("Done:")),
    );
  });

  it("installs into another workspace with OAuth; its bot token is stored encrypted and used for that workspace", async () => {
    const anonymous = await fetch(`${stack.base}/slack/install`, { redirect: "manual" });
    expect(anonymous.status).toBe(401);

    const install = await fetch(`${stack.base}/slack/install`, {
      redirect: "manual",
      headers: { authorization: `Bearer ${stack.owner.token}` },
    });
    expect(install.status).toBe(302);
    const authorize = new URL(install.headers.get("location")!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(
      new URL("../oauth/v2/authorize", fake.url).toString(),
    );
    expect(authorize.searchParams.get("client_id")).toBe("client-id");
    expect(authorize.searchParams.get("redirect_uri")).toBe(
      "http://tandem.test/slack/oauth_redirect",
    );
    expect(authorize.searchParams.get("scope")!.split(",")).toContain("app_mentions:read");
    const state = authorize.searchParams.get("state")!;
    const cookie = install.headers.get("set-cookie")!.split(";")[0]!;

    const forged = await fetch(
      `${stack.base}/slack/oauth_redirect?code=c0de&state=${encodeURIComponent(state)}`,
    );
    expect(forged.status).toBe(400); // no state cookie: not the browser that began the install
    const done = await fetch(
      `${stack.base}/slack/oauth_redirect?code=c0de&state=${encodeURIComponent(state)}`,
      { headers: { cookie } },
    );
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Tandem is installed");
    expect(fake.callsTo("oauth.v2.access").at(-1)!.body.code).toBe("c0de");

    const [row] = await stack.rt.database.db
      .select()
      .from(schema.installations)
      .where(eq(schema.installations.externalId, "T0INSTALLED"));
    expect(row).toMatchObject({ provider: "slack", orgId: stack.rt.defaultOrgId });
    expect(row!.credentialsEncrypted).toMatch(/^v1:/);
    expect(JSON.stringify(row)).not.toContain("xoxb-installed-token");
    expect(JSON.parse(decryptSecret(TEST_ENCRYPTION_KEY, row!.credentialsEncrypted!))).toEqual({
      botToken: "xoxb-installed-token",
    });

    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: "T0INSTALLED",
        channel: "C20",
        ts,
        text: "<@UINSTALLEDBOT> acme/app hello from elsewhere",
      }),
    );
    await waitSession20(ts);
    await fake.waitFor("the summary in the other workspace", () =>
      fake.postsIn("C20", ts).some((c) => String(c.body.text).includes("Done:")),
    );
    expect(
      fake.calls
        .filter((c) => c.body.channel === "C20")
        .every((c) => c.token === "xoxb-installed-token"),
    ).toBe(true);
  });

  const waitSession20 = (ts: string) =>
    until(
      "the session",
      async () => {
        const [row] = await stack.rt.database.db
          .select()
          .from(schema.sessionBindings)
          .where(eq(schema.sessionBindings.threadKey, `T0INSTALLED:C20:${ts}`));
        return row;
      },
      15_000,
    );

  it("Socket Mode: envelopes are committed before they are acknowledged, and start sessions the same way", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const acks: Array<{ envelopeId: string; committed: boolean }> = [];
    const ts = newTs();
    const body = mention({
      teamId: TEAM_ID,
      channel: "C30",
      ts,
      text: `<@${BOT_USER_ID}> acme/app over the socket`,
    });
    wss.on("connection", (socket) => {
      socket.on("message", async (raw) => {
        const msg = JSON.parse(String(raw)) as { envelope_id: string };
        const inbox = await stack.rt.database.db
          .select()
          .from(schema.inboundEvents)
          .where(eq(schema.inboundEvents.deliveryId, body.event_id));
        acks.push({ envelopeId: msg.envelope_id, committed: inbox.length === 1 });
      });
      socket.send(
        JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "A0APP" } }),
      );
      socket.send(
        JSON.stringify({
          envelope_id: "env-1",
          type: "events_api",
          payload: body,
          accepts_response_payload: false,
          retry_attempt: 0,
          retry_reason: "",
        }),
      );
    });
    fake.socketUrl = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
    const bot = await startBot(stack.rt, stack.rt.providers);
    try {
      expect(bot.providers).toEqual(["slack"]);
      expect(fake.callsTo("apps.connections.open").at(-1)!.token).toBe("xapp-test-token");
      await until("the ack", async () => acks.length > 0, 10_000);
      expect(acks).toEqual([{ envelopeId: "env-1", committed: true }]);
      await waitSession("C30", ts);
      await fake.waitFor("the summary", () =>
        fake.postsIn("C30", ts).some((c) => String(c.body.text).includes("Done:")),
      );
    } finally {
      await bot.close();
      for (const client of wss.clients) client.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});
