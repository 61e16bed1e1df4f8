import { createPublicKey, verify } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { inflateSync } from "node:zlib";
import {
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  HTTPError,
  RateLimitError,
  REST,
  Routes,
  type GatewayDispatchPayload,
  type Message,
} from "discord.js";
import WebSocket from "ws";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeDiscord, type FakeGuild } from "./fixtures/fake-discord.ts";
import {
  BOT_USER_ID,
  buttonPress,
  DISCORD_APPLICATION_ID,
  DISCORD_BOT_TOKEN,
  DISCORD_PUBLIC_KEY,
  HUMAN_USER_ID,
  OTHER_USER_ID,
  ping,
  postInteraction,
  selectMenu,
  signInteraction,
  slashCommand,
  TANDEM_COMMAND_ID,
} from "./helpers/discord.ts";
import { untilDefined } from "./helpers/poll.ts";

// The fake Discord driven by the real discord.js 14.28.1 (Client over the gateway, REST from
// @discordjs/rest 2.6.3), and the interaction helpers checked with node:crypto. What these pin
// down about the libraries: `raw` gets every dispatch as {op, t, s, d}, duplicates included;
// no compression unless zlib-sync is installed; a 429 is waited out (X-RateLimit-Reset-After
// + 2 × 50 ms) and retried, or with rejectOnRateLimit thrown as RateLimitError whose retryAfter
// is Retry-After in ms + 50; 5xx is retried 3 times; a 401 makes REST forget its token; op 7
// closes 4200 and resumes about 500 ms later; op 9 false re-identifies after the 5 s identify
// throttle.

const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
];
const alice = { id: HUMAN_USER_ID, username: "alice" };

let fake: FakeDiscord;
let guild: FakeGuild;
let channelId: string;
const clients: Client[] = [];

beforeEach(async () => {
  fake = await new FakeDiscord({
    token: DISCORD_BOT_TOKEN,
    applicationId: DISCORD_APPLICATION_ID,
    botUserId: BOT_USER_ID,
    heartbeatIntervalMs: 250,
  }).listen();
  guild = fake.addGuild({
    name: "Tandem Test",
    channels: [{ name: "general" }, { name: "random" }],
    roles: [{ name: "developers" }],
  });
  channelId = guild.channels[0]!.id;
  fake.addMember(guild.id, { ...alice, roles: [guild.roles[1]!.id] });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await fake.close();
});

const rest = (opts: ConstructorParameters<typeof REST>[0] = {}) =>
  new REST({ api: fake.apiUrl, ...opts }).setToken(DISCORD_BOT_TOKEN);

/** A logged-in Client that has emitted clientReady, and every raw packet it saw. */
async function readyClient(intents = INTENTS) {
  const client = new Client({ intents, rest: { api: fake.apiUrl } });
  clients.push(client);
  const raw: GatewayDispatchPayload[] = [];
  client.on(Events.Raw, (packet: GatewayDispatchPayload) => raw.push(packet));
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(DISCORD_BOT_TOKEN);
  await ready;
  return { client, raw };
}

const rawMessages = (raw: GatewayDispatchPayload[]) =>
  raw
    .filter((p) => p.t === "MESSAGE_CREATE")
    .map((p) => p as Extract<typeof p, { t: "MESSAGE_CREATE" }>);

describe("fake Discord gateway with the real discord.js Client", () => {
  it("logs in: IDENTIFY carries the intents, READY and GUILD_CREATE make the client ready", async () => {
    const { client, raw } = await readyClient();

    expect(fake.identifyCount).toBe(1);
    expect(fake.intents).toBe(1 | (1 << 9) | (1 << 15));
    const identify = fake.gatewayFrames.find((f) => f.op === 2)!;
    expect(identify.d).toMatchObject({
      token: DISCORD_BOT_TOKEN,
      intents: 33281,
      compress: false,
      shard: [0, 1],
      properties: { browser: "@discordjs/ws 1.2.3", device: "@discordjs/ws 1.2.3" },
    });
    expect(client.user?.id).toBe(BOT_USER_ID);
    expect(client.application?.id).toBe(DISCORD_APPLICATION_ID);
    const cached = client.guilds.cache.get(guild.id);
    expect(cached?.available).toBe(true);
    expect(cached?.channels.cache.map((c) => c.name).sort()).toEqual(["general", "random"]);
    expect(cached?.roles.cache.map((r) => r.name).sort()).toEqual(["@everyone", "developers"]);
    expect(raw.map((p) => [p.t, p.s])).toEqual([
      ["READY", 1],
      ["GUILD_CREATE", 2],
    ]);
    // The only REST call the Client makes on its own at login.
    expect(fake.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      "GET /gateway/bot 200",
    ]);
  });

  it("delivers a posted message through `raw` ({op, t, s, d}) and messageCreate", async () => {
    const { client, raw } = await readyClient();
    const created = new Promise<Message>((resolve) => client.once(Events.MessageCreate, resolve));
    const posted = fake.postMessage({
      guildId: guild.id,
      channelId,
      author: alice,
      content: `<@${BOT_USER_ID}> fix the flaky test`,
    });

    const message = await created;
    expect(Events.Raw).toBe("raw");
    expect(message.id).toBe(posted.id);
    expect(message.content).toBe(`<@${BOT_USER_ID}> fix the flaky test`);
    expect(message.mentions.users.has(BOT_USER_ID)).toBe(true);
    expect(message.member?.roles.cache.has(guild.roles[1]!.id)).toBe(true);
    const [packet] = rawMessages(raw);
    expect(packet).toMatchObject({
      op: 0,
      t: "MESSAGE_CREATE",
      s: 3,
      d: {
        id: posted.id,
        channel_id: channelId,
        guild_id: guild.id,
        type: 0,
        author: { id: HUMAN_USER_ID, username: "alice" },
        member: { roles: [guild.roles[1]!.id] },
        mentions: [{ id: BOT_USER_ID, bot: true }],
      },
    });
    expect(typeof packet!.d.timestamp).toBe("string");
  });

  it("redeliver: the same MESSAGE_CREATE again under a new sequence number; dispatch: any event", async () => {
    const { raw } = await readyClient();
    const posted = fake.postMessage({ guildId: guild.id, channelId, author: alice, content: "hi" });
    expect(fake.redeliver(posted.id)).toBe(4);
    await untilDefined("the second delivery", () => rawMessages(raw).length === 2 || undefined);
    expect(rawMessages(raw).map((p) => [p.d.id, p.s])).toEqual([
      [posted.id, 3],
      [posted.id, 4],
    ]);
    const pins = { channel_id: channelId, guild_id: guild.id, last_pin_timestamp: null };
    expect(fake.dispatch("CHANNEL_PINS_UPDATE", pins)).toBe(5);
    await untilDefined("any event", () => raw.find((p) => p.t === "CHANNEL_PINS_UPDATE"));
    expect(raw.at(-1)).toEqual({ op: 0, t: "CHANNEL_PINS_UPDATE", s: 5, d: pins });
  });

  it("answers heartbeats with ACKs (the client measures a ping)", async () => {
    const { client } = await readyClient();
    await untilDefined(
      "two heartbeats",
      () => fake.gatewayFrames.filter((f) => f.op === 1).length >= 2 || undefined,
    );
    await untilDefined("a heartbeat ACK", () => client.ws.ping >= 0 || undefined);
    // Each heartbeat carries the last sequence number the client saw (READY 1, GUILD_CREATE 2).
    expect(fake.gatewayFrames.filter((f) => f.op === 1).at(-1)!.d).toBe(2);
  });

  it("echoes what the bot posts over REST as MESSAGE_CREATE, and a new thread as THREAD_CREATE", async () => {
    const { raw } = await readyClient();
    const api = rest();
    const sent = (await api.post(Routes.channelMessages(channelId), {
      body: { content: "on it" },
    })) as { id: string };
    await api.post(Routes.threads(channelId, sent.id), { body: { name: "Session" } });

    await untilDefined("the echo", () => raw.find((p) => p.t === "THREAD_CREATE"));
    const [echo] = rawMessages(raw);
    expect(echo!.d).toMatchObject({ id: sent.id, author: { id: BOT_USER_ID, bot: true } });
    expect(raw.find((p) => p.t === "THREAD_CREATE")!.d).toMatchObject({
      id: sent.id,
      parent_id: channelId,
      type: 11,
      newly_created: true,
    });
  });

  it("op 7: the client resumes (no new IDENTIFY) and gets what was dispatched in the gap", async () => {
    const { raw } = await readyClient();
    await fake.forceReconnect();
    const gap = fake.postMessage({ guildId: guild.id, channelId, author: alice, content: "gap" });
    await fake.waitForResume();

    expect(fake.resumeCount).toBe(1);
    expect(fake.identifyCount).toBe(1);
    // The client closed with 4200 (so Discord keeps the session) and resumed on a new socket.
    expect(fake.gatewayCloses).toEqual([{ connection: 1, code: 4200, by: "client" }]);
    const resume = fake.gatewayFrames.find((f) => f.op === 6)!;
    expect(resume).toMatchObject({ connection: 2, d: { token: DISCORD_BOT_TOKEN, seq: 2 } });
    expect(typeof resume.d.session_id).toBe("string");
    await untilDefined("the gap's message", () => rawMessages(raw).find((p) => p.d.id === gap.id));
    expect(raw.map((p) => p.t)).toEqual(["READY", "GUILD_CREATE", "MESSAGE_CREATE", "RESUMED"]);
  });

  it("op 7 with duplicateLast: the replay re-sends what the client had; messageCreate fires once", async () => {
    const { client, raw } = await readyClient();
    const seen: string[] = [];
    client.on(Events.MessageCreate, (m) => seen.push(m.id));
    const first = fake.postMessage({ guildId: guild.id, channelId, author: alice, content: "one" });
    await untilDefined("the first message", () => seen.length === 1 || undefined);
    await fake.forceReconnect({ duplicateLast: 1 });
    const second = fake.postMessage({
      guildId: guild.id,
      channelId,
      author: alice,
      content: "two",
    });
    await fake.waitForResume();
    await untilDefined("the second message", () => seen.length === 2 || undefined);

    const ids = rawMessages(raw).map((p) => [p.d.id, p.s]);
    expect(ids).toEqual([
      [first.id, 3],
      [first.id, 3],
      [second.id, 4],
    ]);
    // discord.js drops the duplicate itself (the message is cached): only `raw` sees it twice.
    expect(seen).toEqual([first.id, second.id]);
  });

  it("op 9 resumable: the client sends RESUME on the same connection", async () => {
    await readyClient();
    fake.invalidateSession(true);
    await fake.waitForResume();
    expect(fake.identifyCount).toBe(1);
    expect(fake.gatewayFrames.find((f) => f.op === 6)?.connection).toBe(1);
    expect(fake.gatewayCloses).toEqual([]);
  });

  it("op 9 not resumable: the client identifies again", async () => {
    const { raw } = await readyClient();
    fake.invalidateSession(false);
    await fake.waitForReady(2);
    expect(fake.resumeCount).toBe(0);
    expect(fake.gatewayCloses).toEqual([{ connection: 1, code: 1000, by: "client" }]);
    expect(fake.gatewayFrames.filter((f) => f.op === 2).map((f) => f.connection)).toEqual([1, 2]);
    await untilDefined(
      "the second READY",
      () => raw.filter((p) => p.t === "READY").length === 2 || undefined,
    );
  });

  it("without MESSAGE_CONTENT the content is empty unless the message mentions the bot", async () => {
    const { raw } = await readyClient([GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages]);
    fake.postMessage({ guildId: guild.id, channelId, author: alice, content: "hello all" });
    fake.postMessage({
      guildId: guild.id,
      channelId,
      author: alice,
      content: `<@${BOT_USER_ID}> hello`,
    });
    await untilDefined("both messages", () => rawMessages(raw).length === 2 || undefined);
    expect(rawMessages(raw).map((p) => p.d.content)).toEqual(["", `<@${BOT_USER_ID}> hello`]);
  });

  it("refuses a bad token: login rejects after GET /gateway/bot answers 401", async () => {
    const client = new Client({ intents: INTENTS, rest: { api: fake.apiUrl } });
    clients.push(client);
    await expect(client.login("not-the-token")).rejects.toMatchObject({ code: "TokenInvalid" });
    expect(fake.calls.map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      "GET /gateway/bot 401",
    ]);
  });

  it("speaks zlib-stream when the URL asks for it, and closes 4004 on a bad IDENTIFY token", async () => {
    const ws = new WebSocket(`${fake.gatewayUrl}?v=10&encoding=json&compress=zlib-stream`);
    const frames: Buffer[] = [];
    ws.on("message", (data: Buffer) => frames.push(data));
    await untilDefined("HELLO", () => frames[0]);
    expect(frames[0]!.subarray(-4)).toEqual(Buffer.from([0, 0, 0xff, 0xff]));
    const hello = JSON.parse(inflateSync(frames[0]!, { finishFlush: 2 }).toString());
    expect(hello).toMatchObject({ op: 10, d: { heartbeat_interval: 250 } });
    const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
    ws.send(JSON.stringify({ op: 2, d: { token: "wrong", intents: 0, properties: {} } }));
    expect(await closed).toBe(4004);
  });
});

describe("fake Discord REST with @discordjs/rest", () => {
  it("posts and edits a message, keeping every edit; refuses content over 2000 characters", async () => {
    const api = rest();
    const sent = (await api.post(Routes.channelMessages(channelId), {
      body: {
        content: "Working on it",
        embeds: [{ title: "Session", description: "starting" }],
        components: [
          { type: 1, components: [{ type: 2, style: 4, label: "Stop", custom_id: "stop:1" }] },
        ],
        allowed_mentions: { parse: [] },
      },
    })) as any;
    expect(sent).toMatchObject({
      channel_id: channelId,
      content: "Working on it",
      author: { id: BOT_USER_ID, bot: true },
    });
    await api.patch(Routes.channelMessage(channelId, sent.id), { body: { content: "Done" } });

    const [stored] = fake.messagesIn(channelId);
    expect(stored).toMatchObject({ id: sent.id, authorId: BOT_USER_ID, content: "Working on it" });
    expect(stored!.allowedMentions).toEqual({ parse: [] });
    expect(stored!.edits).toEqual([
      {
        content: "Done",
        embeds: [{ title: "Session", description: "starting" }],
        components: sent.components,
      },
    ]);
    expect(stored!.current.content).toBe("Done");
    const fetched = (await api.get(Routes.channelMessage(channelId, sent.id))) as any;
    expect(fetched.content).toBe("Done");
    expect(fetched.edited_timestamp).not.toBeNull();

    const err = await api
      .post(Routes.channelMessages(channelId), { body: { content: "x".repeat(2001) } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect(err).toMatchObject({ status: 400, code: 50035 });
    expect((err as DiscordAPIError).rawError).toMatchObject({
      errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH" }] } },
    });
  });

  it("lists newest first, deletes, reacts, takes files; refuses empty messages and others' edits", async () => {
    const api = rest();
    const human = fake.postMessage({ guildId: guild.id, channelId, author: alice, content: "hi" });
    const withFile = (await api.post(Routes.channelMessages(channelId), {
      body: { content: "the log" },
      files: [{ name: "log.txt", data: Buffer.from("line 1\n") }],
    })) as any;
    expect(withFile.attachments).toMatchObject([{ filename: "log.txt", size: 7 }]);
    const list = (await api.get(Routes.channelMessages(channelId), {
      query: new URLSearchParams({ limit: "1" }),
    })) as any[];
    expect(list.map((m) => m.id)).toEqual([withFile.id]);

    await api.put(Routes.channelMessageOwnReaction(channelId, human.id, "👀"));
    expect(fake.callsTo("PUT", /\/reactions\/👀\/@me$/).map((c) => c.status)).toEqual([204]);
    await api.delete(Routes.channelMessage(channelId, withFile.id));
    expect(fake.message(withFile.id)?.deleted).toBe(true);

    const empty = await api
      .post(Routes.channelMessages(channelId), { body: { content: "" } })
      .catch((e: unknown) => e);
    expect(empty).toMatchObject({ status: 400, code: 50006 });
    const others = await api
      .patch(Routes.channelMessage(channelId, human.id), { body: { content: "mine now" } })
      .catch((e: unknown) => e);
    expect(others).toMatchObject({ status: 403, code: 50005 });
  });

  it("starts a thread whose id is the message's; a second start is 160004", async () => {
    const api = rest();
    const sent = (await api.post(Routes.channelMessages(channelId), {
      body: { content: "hi" },
    })) as {
      id: string;
    };
    const thread = (await api.post(Routes.threads(channelId, sent.id), {
      body: { name: "Tandem session", auto_archive_duration: 1440 },
    })) as any;
    expect(thread).toMatchObject({
      id: sent.id,
      type: 11,
      parent_id: channelId,
      name: "Tandem session",
    });
    expect(fake.threads).toEqual([
      {
        id: sent.id,
        parentId: channelId,
        guildId: guild.id,
        name: "Tandem session",
        messageId: sent.id,
      },
    ]);
    await api.post(Routes.channelMessages(thread.id), { body: { content: "in the thread" } });
    expect(fake.messagesIn(sent.id).map((m) => m.content)).toEqual(["in the thread"]);

    const again = await api
      .post(Routes.threads(channelId, sent.id), { body: { name: "again" } })
      .catch((e: unknown) => e);
    const side = (await api.post(Routes.threads(channelId), {
      body: { name: "side", type: 11 },
    })) as any;
    expect(side).toMatchObject({ type: 11, parent_id: channelId, name: "side" });
    expect(fake.threads.find((t) => t.id === side.id)?.messageId).toBeUndefined();

    expect(again).toBeInstanceOf(DiscordAPIError);
    expect(again).toMatchObject({
      status: 400,
      code: 160004,
      message: "A thread has already been created for this message",
    });
  });

  it("429 with default options: @discordjs/rest waits X-RateLimit-Reset-After and retries by itself", async () => {
    fake.failNext("POST", /^\/channels\/\d+\/messages$/, { retryAfter: 0.4 });
    await rest().post(Routes.channelMessages(channelId), { body: { content: "after the limit" } });

    const [limited, retried] = fake.callsTo("POST", /^\/channels\/\d+\/messages$/);
    expect([limited?.status, retried?.status]).toEqual([429, 200]);
    expect(retried!.at - limited!.at).toBeGreaterThanOrEqual(400);
    expect(retried!.at - limited!.at).toBeLessThan(3_000);
    expect(fake.messagesIn(channelId)).toHaveLength(1);
  });

  it("429 with rejectOnRateLimit: RateLimitError, retryAfter in ms from the Retry-After header", async () => {
    fake.failNext("POST", /^\/channels\/\d+\/messages$/, { retryAfter: 0.4 });
    const err = await rest({ rejectOnRateLimit: () => true })
      .post(Routes.channelMessages(channelId), { body: { content: "x" } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    // Retry-After is whole seconds (Discord rounds up), plus @discordjs/rest's 50 ms offset.
    expect(err).toMatchObject({ retryAfter: 1050, global: false, scope: "user", method: "POST" });
    expect((err as RateLimitError).timeToReset).toBeGreaterThan(300);
    expect((err as RateLimitError).timeToReset).toBeLessThanOrEqual(500);
    expect(fake.callsTo("POST", /^\/channels\/\d+\/messages$/)).toHaveLength(1);

    fake.failNext("GET", /^\/channels\/\d+$/, { retryAfter: 2.5, global: true });
    const global = await rest({ rejectOnRateLimit: () => true })
      .get(Routes.channel(channelId))
      .catch((e: unknown) => e);
    expect(global).toMatchObject({ retryAfter: 3050, global: true, scope: "global" });
  });

  it("5xx: retried up to `retries` (3) times, then HTTPError", async () => {
    fake.failNext("GET", /^\/channels\/\d+$/, { status: 503 });
    await rest().get(Routes.channel(channelId));
    expect(fake.callsTo("GET", /^\/channels\/\d+$/).map((c) => c.status)).toEqual([503, 200]);

    fake.failNext("GET", /^\/guilds\/\d+$/, { status: 500, times: 4 });
    const err = await rest()
      .get(Routes.guild(guild.id))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HTTPError);
    expect(err).toMatchObject({ status: 500 });
    expect(fake.callsTo("GET", /^\/guilds\/\d+$/)).toHaveLength(4);
  });

  it("answers 401 to a bad token; @discordjs/rest then drops its token", async () => {
    const api = new REST({ api: fake.apiUrl }).setToken("not-the-token");
    const err = await api.get(Routes.user("@me")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscordAPIError);
    expect(err).toMatchObject({ status: 401, code: 0, message: "401: Unauthorized" });
    await expect(api.get(Routes.user("@me"))).rejects.toThrow(/Expected token to be set/);
    expect(fake.calls).toHaveLength(1);
  });

  it("reads the bot, the application, guilds, roles, members and channels", async () => {
    const api = rest();
    expect(await api.get(Routes.user("@me"))).toMatchObject({ id: BOT_USER_ID, bot: true });
    expect(await api.get(Routes.currentApplication())).toMatchObject({
      id: DISCORD_APPLICATION_ID,
    });
    expect(await api.get(Routes.guild(guild.id))).toMatchObject({
      id: guild.id,
      name: "Tandem Test",
    });
    expect(await api.get(Routes.guildRoles(guild.id))).toMatchObject([
      { id: guild.id, name: "@everyone" },
      { id: guild.roles[1]!.id, name: "developers" },
    ]);
    expect(await api.get(Routes.guildMember(guild.id, HUMAN_USER_ID))).toMatchObject({
      user: { id: HUMAN_USER_ID },
      roles: [guild.roles[1]!.id],
    });
    const missing = await api
      .get(Routes.guildMember(guild.id, OTHER_USER_ID))
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404, code: 10007 });
    expect(await api.get(Routes.channel(channelId))).toMatchObject({ id: channelId, type: 0 });
    expect(await api.get(Routes.gatewayBot())).toMatchObject({ url: fake.gatewayUrl, shards: 1 });
  });

  it("registers commands by bulk overwrite, keeping ids across overwrites", async () => {
    const api = rest();
    const commands = [
      {
        name: "tandem",
        description: "Ask Tandem",
        options: [{ name: "prompt", description: "What to do", type: 3, required: true }],
      },
    ];
    const [first] = (await api.put(Routes.applicationCommands(DISCORD_APPLICATION_ID), {
      body: commands,
    })) as any[];
    const [second] = (await api.put(Routes.applicationCommands(DISCORD_APPLICATION_ID), {
      body: commands,
    })) as any[];
    expect(second.id).toBe(first.id);
    expect(fake.commands).toMatchObject([
      { id: first.id, name: "tandem", type: 1, application_id: DISCORD_APPLICATION_ID },
    ]);
    expect(await api.get(Routes.applicationCommands(DISCORD_APPLICATION_ID))).toEqual(
      fake.commands,
    );
    await api.put(Routes.applicationGuildCommands(DISCORD_APPLICATION_ID, guild.id), { body: [] });
    expect(fake.guildCommands(guild.id)).toEqual([]);
  });

  it("interaction webhooks: @original created on first edit then edited; ephemeral follow-ups stay out of the channel", async () => {
    const api = rest();
    const interaction = fake.openInteraction({ guildId: guild.id, channelId, user: alice });
    const original = Routes.webhookMessage(DISCORD_APPLICATION_ID, interaction.token, "@original");
    const created = (await api.patch(original, {
      body: { content: "Starting…" },
      auth: false,
    })) as any;
    await api.patch(original, { body: { content: "Running" }, auth: false });
    expect(created).toMatchObject({
      type: 20,
      content: "Starting…",
      webhook_id: DISCORD_APPLICATION_ID,
      author: { id: BOT_USER_ID },
      interaction_metadata: { id: interaction.id, user: { id: HUMAN_USER_ID } },
    });
    expect(await api.get(original, { auth: false })).toMatchObject({
      id: created.id,
      content: "Running",
    });

    const followUp = (await api.post(Routes.webhook(DISCORD_APPLICATION_ID, interaction.token), {
      body: { content: "only you can see this", flags: 64 },
      auth: false,
    })) as any;
    expect(fake.messagesIn(channelId).map((m) => [m.id, m.current.content])).toEqual([
      [created.id, "Running"],
    ]);
    await api.patch(Routes.webhookMessage(DISCORD_APPLICATION_ID, interaction.token, followUp.id), {
      body: { content: "only you, edited" },
      auth: false,
    });
    expect(fake.ephemerals).toMatchObject([
      { id: followUp.id, ephemeralFor: HUMAN_USER_ID, content: "only you can see this" },
    ]);
    expect(fake.ephemerals[0]!.current.content).toBe("only you, edited");

    const unknown = await api
      .patch(Routes.webhookMessage(DISCORD_APPLICATION_ID, "no-such-token", "@original"), {
        body: { content: "x" },
        auth: false,
      })
      .catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 404, code: 10015 });
    expect(fake.callsTo("PATCH", /@original$/)[0]!.authorization).toBeUndefined();
  });

  it("initial responses: type 4 makes @original, a second answer is 40060; a deferred ephemeral stays ephemeral", async () => {
    const api = rest();
    const answered = fake.openInteraction({ guildId: guild.id, channelId, user: alice });
    fake.answerInteraction(answered.token, { type: 4, data: { content: "Queued" } });
    expect(fake.message(answered.originalId!)).toMatchObject({
      channelId,
      content: "Queued",
      type: 20,
    });
    expect(() =>
      fake.answerInteraction(answered.token, { type: 4, data: { content: "x" } }),
    ).toThrow(/40060/);

    const deferred = fake.openInteraction({ guildId: guild.id, channelId, user: alice });
    await api.post(Routes.interactionCallback(deferred.id, deferred.token), {
      body: { type: 5, data: { flags: 64 } },
      auth: false,
    });
    await api.patch(Routes.webhookMessage(DISCORD_APPLICATION_ID, deferred.token, "@original"), {
      body: { content: "Which repository?" },
      auth: false,
    });
    expect(fake.ephemerals.map((m) => [m.ephemeralFor, m.content])).toEqual([
      [HUMAN_USER_ID, "Which repository?"],
    ]);
    expect(fake.messagesIn(channelId).map((m) => m.content)).toEqual(["Queued"]);
    expect(fake.callsTo("POST", /\/callback$/).map((c) => c.status)).toEqual([204]);
  });

  it("component interactions: @original is the message the button is on", async () => {
    const api = rest();
    const sent = (await api.post(Routes.channelMessages(channelId), {
      body: { content: "Stop?" },
    })) as {
      id: string;
    };
    const interaction = fake.openInteraction({
      guildId: guild.id,
      channelId,
      user: alice,
      messageId: sent.id,
    });
    await api.patch(Routes.webhookMessage(DISCORD_APPLICATION_ID, interaction.token, "@original"), {
      body: { content: "Stopped", components: [] },
      auth: false,
    });
    expect(fake.message(sent.id)?.current.content).toBe("Stopped");
    expect(fake.messagesIn(channelId)).toHaveLength(1);
  });
});

describe("Discord interaction helpers", () => {
  it("signs with a key that verifies against DISCORD_PUBLIC_KEY (raw 32 bytes, hex)", () => {
    expect(DISCORD_PUBLIC_KEY).toMatch(/^[0-9a-f]{64}$/);
    const key = createPublicKey({
      key: {
        kty: "OKP",
        crv: "Ed25519",
        x: Buffer.from(DISCORD_PUBLIC_KEY, "hex").toString("base64url"),
      },
      format: "jwk",
    });
    const body = JSON.stringify(ping());
    const headers = signInteraction(body, "1700000000");
    expect(headers["x-signature-timestamp"]).toBe("1700000000");
    const signature = Buffer.from(headers["x-signature-ed25519"], "hex");
    expect(verify(null, Buffer.from(`1700000000${body}`), key, signature)).toBe(true);
    expect(verify(null, Buffer.from(`1700000001${body}`), key, signature)).toBe(false);
  });

  it("postInteraction sends the JSON signed, badly signed, or unsigned", async () => {
    const seen: Array<{ url?: string; headers: http.IncomingHttpHeaders; body: string }> = [];
    const server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c));
      req.on("end", () => {
        seen.push({ url: req.url, headers: req.headers, body });
        res.writeHead(200, { "content-type": "application/json" }).end('{"type":1}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const payload = ping();
      expect(await postInteraction(base, payload)).toEqual({ status: 200, body: { type: 1 } });
      await postInteraction(base, payload, { badSignature: true });
      await postInteraction(base, payload, { unsigned: true });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const key = createPublicKey({
      key: {
        kty: "OKP",
        crv: "Ed25519",
        x: Buffer.from(DISCORD_PUBLIC_KEY, "hex").toString("base64url"),
      },
      format: "jwk",
    });
    const valid = (s: (typeof seen)[number]) =>
      verify(
        null,
        Buffer.from(`${s.headers["x-signature-timestamp"]}${s.body}`),
        key,
        Buffer.from(String(s.headers["x-signature-ed25519"]), "hex"),
      );
    expect(seen.map((s) => s.url)).toEqual(Array(3).fill("/hooks/discord/interactions"));
    expect(seen.map((s) => s.headers["content-type"])).toEqual(Array(3).fill("application/json"));
    expect([valid(seen[0]!), valid(seen[1]!)]).toEqual([true, false]);
    expect(seen[2]!.headers["x-signature-ed25519"]).toBeUndefined();
  });

  it("builds interactions shaped as Discord sends them", () => {
    const where = { guildId: guild.id, channelId, roles: ["1"] };
    const command = slashCommand({ ...where, prompt: "fix it", repo: "acme/api" });
    expect(command).toMatchObject({
      type: 2,
      application_id: DISCORD_APPLICATION_ID,
      version: 1,
      guild_id: guild.id,
      channel_id: channelId,
      channel: { id: channelId, type: 0 },
      member: { user: { id: HUMAN_USER_ID, username: "alice" }, roles: ["1"] },
      context: 0,
      entitlements: [],
      authorizing_integration_owners: { "0": guild.id },
      data: {
        id: TANDEM_COMMAND_ID,
        name: "tandem",
        type: 1,
        options: [
          { name: "prompt", type: 3, value: "fix it" },
          { name: "repo", type: 3, value: "acme/api" },
        ],
      },
    });
    expect(command.token).not.toBe(slashCommand(where).token);
    const button = buttonPress({ ...where, messageId: "123", customId: "stop:1" });
    expect(button).toMatchObject({
      type: 3,
      message: { id: "123" },
      data: { custom_id: "stop:1", component_type: 2 },
    });
    const select = selectMenu({ ...where, messageId: "123", customId: "profile", values: ["web"] });
    expect(select.data).toEqual({ custom_id: "profile", component_type: 3, values: ["web"] });
    expect(ping()).toMatchObject({ type: 1, version: 1, application_id: DISCORD_APPLICATION_ID });
  });
});
