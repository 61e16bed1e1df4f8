import { and, eq } from "drizzle-orm";
import { startBot } from "@tandem/bot";
import { commandAdapter, schema } from "@tandem/core";
import { FakeDiscord, type FakeDiscordMessage, type FakeGuild } from "../fixtures/fake-discord.ts";
import {
  BOT_USER_ID,
  buttonPress,
  DISCORD_APPLICATION_ID,
  DISCORD_BOT_TOKEN,
  DISCORD_PUBLIC_KEY,
  HUMAN_USER_ID,
  postInteraction,
  selectMenu,
  slashCommand,
} from "./discord.ts";
import { registerRepository, startGitServer, type RepoFiles, type TestGit } from "./e2e.ts";
import { startStack, until, type Stack } from "./stack.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];

export const ALICE = { id: HUMAN_USER_ID, username: "alice" };

export interface DiscordStack {
  fake: FakeDiscord;
  git: TestGit;
  stack: Stack;
  bot: Awaited<ReturnType<typeof startBot>>;
  guild: FakeGuild;
  /** The guild's #general. */
  channelId: string;
  /** Someone (alice) mentions the bot in a channel: "<@bot> " + text (as the message `id`, if given). */
  mention(channelId: string, text: string, author?: Author, id?: string): FakeDiscordMessage;
  /** Someone writes in a channel or thread, without a mention. */
  say(channelId: string, text: string, author?: Author): FakeDiscordMessage;
  /**
   * `/tandem …` signed to the interactions endpoint; its answer is applied to the fake (as
   * Discord would on receiving it), so the worker's edits of @original land.
   */
  command(o: CommandOptions): Promise<{ status: number; body: any; token: string; id: string }>;
  /** A press of a button (`customId`) on the message `messageId`. */
  press(o: PressOptions): Promise<{ status: number; body: any }>;
  /** A pick in the repository menu `customId` on `messageId`. */
  pick(o: PressOptions & { values: string[] }): Promise<{ status: number; body: any }>;
  /** The messages the bot wrote in a channel or thread. */
  botMessages(channelId: string): FakeDiscordMessage[];
  /** The session bound to a thread, once there is one. */
  sessionOf(threadId: string): Promise<typeof schema.sessions.$inferSelect>;
  close(): Promise<void>;
}

interface Author {
  id: string;
  username: string;
  roles?: string[];
}
interface CommandOptions {
  channelId?: string;
  prompt?: string;
  repo?: string;
  profile?: string;
  user?: Author;
  id?: string;
  token?: string;
}
interface PressOptions {
  channelId: string;
  messageId: string;
  customId: string;
  user?: Author & { permissions?: string };
}

/**
 * Tandem (web, worker and the bot's gateway connection; local sandboxes running the scripted
 * agent) wired to a FakeDiscord with one guild, and a git server holding `repos`, of which
 * `registered` are registered.
 */
export async function startDiscordStack(
  o: {
    env?: Record<string, string>;
    repos?: RepoFiles;
    registered?: string[];
    roles?: Array<{ id?: string; name: string }>;
    heartbeatIntervalMs?: number;
    /** The real agent (as `npm start` runs it) instead of the scripted one; set the sandbox in `env`. */
    realAgent?: boolean;
  } = {},
): Promise<DiscordStack> {
  const fake = await new FakeDiscord({
    token: DISCORD_BOT_TOKEN,
    applicationId: DISCORD_APPLICATION_ID,
    botUserId: BOT_USER_ID,
    ...(o.heartbeatIntervalMs ? { heartbeatIntervalMs: o.heartbeatIntervalMs } : {}),
  }).listen();
  const guild = fake.addGuild({
    name: "Acme",
    channels: [{ name: "general" }, { name: "eng" }],
    roles: o.roles ?? [{ name: "Engineers" }],
  });
  const git = await startGitServer(
    { username: "tandem-test", password: "test-git-password" },
    o.repos ?? { "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" } },
  );
  const stack = await startStack(
    "postgres",
    {
      DISCORD_BOT_TOKEN,
      DISCORD_APPLICATION_ID,
      DISCORD_PUBLIC_KEY,
      DISCORD_API_URL: fake.apiUrl,
      SANDBOX_PROVIDER: "local",
      ...o.env,
    },
    o.realAgent ? {} : { agent: commandAdapter(AGENT) },
  );
  for (const name of o.registered ?? ["acme/app"]) await registerRepository(stack, git, name);
  const bot = await startBot(stack.rt, stack.rt.providers);
  await fake.waitForReady();
  const db = stack.rt.database.db;
  await until(
    "the guild's installation",
    async () =>
      (await db.query.installations.findFirst({
        where: and(
          eq(schema.installations.provider, "discord"),
          eq(schema.installations.externalId, guild.id),
        ),
      })) !== undefined,
    10_000,
  );
  const channelId = guild.channels[0]!.id;
  const write = (channelId: string, content: string, author: Author = ALICE, id?: string) =>
    fake.postMessage({
      ...(id ? { id } : {}),
      guildId: guild.id,
      channelId,
      author: { id: author.id, username: author.username },
      content,
      ...(author.roles ? { memberRoles: author.roles } : {}),
    });
  const user = (a?: Author) => ({
    user: { id: (a ?? ALICE).id, username: (a ?? ALICE).username },
    roles: a?.roles ?? [],
  });
  const component = async (
    payload: { id: string; token: string },
    channelId: string,
    o: PressOptions,
  ) => {
    fake.openInteraction({
      id: payload.id,
      token: payload.token,
      guildId: guild.id,
      channelId,
      user: (o.user ?? ALICE) as { id: string; username: string },
      messageId: o.messageId,
    });
    if (o.user?.permissions)
      (payload as unknown as { member: { permissions: string } }).member.permissions =
        o.user.permissions;
    const res = await postInteraction(stack.base, payload);
    if (res.status === 200 && res.body?.type) fake.answerInteraction(payload.token, res.body);
    return res;
  };
  return {
    fake,
    git,
    stack,
    bot,
    guild,
    channelId,
    mention: (channelId, text, author, id) =>
      write(channelId, `<@${BOT_USER_ID}> ${text}`, author, id),
    say: (channelId, text, author) => write(channelId, text, author),
    async command(c) {
      const where = c.channelId ?? channelId;
      const payload = slashCommand({
        guildId: guild.id,
        channelId: where,
        ...user(c.user),
        ...(c.prompt !== undefined ? { prompt: c.prompt } : {}),
        ...(c.repo ? { repo: c.repo } : {}),
        ...(c.profile ? { profile: c.profile } : {}),
        ...(c.id ? { id: c.id } : {}),
        ...(c.token ? { token: c.token } : {}),
      });
      if (!fake.interactions.has(payload.token))
        fake.openInteraction({
          id: payload.id,
          token: payload.token,
          guildId: guild.id,
          channelId: where,
          user: user(c.user).user,
        });
      const res = await postInteraction(stack.base, payload);
      if (
        res.status === 200 &&
        res.body?.type &&
        !fake.interactions.get(payload.token)?.responses.length
      )
        fake.answerInteraction(payload.token, res.body);
      return { ...res, token: payload.token, id: payload.id };
    },
    press: (p) =>
      component(
        buttonPress({
          guildId: guild.id,
          channelId: p.channelId,
          messageId: p.messageId,
          customId: p.customId,
          ...user(p.user),
        }),
        p.channelId,
        p,
      ),
    pick: (p) =>
      component(
        selectMenu({
          guildId: guild.id,
          channelId: p.channelId,
          messageId: p.messageId,
          customId: p.customId,
          values: p.values,
          ...user(p.user),
        }),
        p.channelId,
        p,
      ),
    botMessages: (id) =>
      fake.messagesIn(id).filter((m) => m.authorId === BOT_USER_ID && !m.deleted),
    sessionOf: (threadId) =>
      until(
        "the thread's session",
        async () => {
          const [row] = await db
            .select({ session: schema.sessions })
            .from(schema.sessionBindings)
            .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
            .where(
              and(
                eq(schema.sessionBindings.provider, "discord"),
                eq(schema.sessionBindings.threadKey, `${guild.id}/${threadId}`),
              ),
            );
          return row?.session;
        },
        20_000,
      ),
    async close() {
      await bot.close();
      await stack.close();
      await git.close();
      await fake.close();
    },
  };
}
