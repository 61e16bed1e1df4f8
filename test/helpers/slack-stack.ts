import { eq } from "drizzle-orm";
import { commandAdapter, schema } from "@tandem/core";
import { BOT_USER_ID, FakeSlack, TEAM_ID, type SlackCall } from "../fixtures/fake-slack.ts";
import {
  registerRepository,
  sessionOfThread,
  startGitServer,
  waitForStatus,
  type RepoFiles,
  type TestGit,
} from "./e2e.ts";
import { startedBeforeAll } from "./hooks.ts";
import { blockActions, mention, message, postSlack, SIGNING_SECRET } from "./slack.ts";
import { startStack, until, type Stack } from "./stack.ts";

/** The scripted agent the Slack tests run in local sandboxes (writes notes.txt, can be slow or fail). */
const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];
const SLACK_GIT = { username: "tandem-test", password: "test-git-password" };

export interface SlackStackOptions {
  /** What the git server holds (default: acme/app with a README and hello.txt, and acme/api). */
  repos?: RepoFiles;
  /** Registered before the tests (default: acme/app, so a mention naming none starts on it). */
  register?: string[];
  /** Also the OAuth install's client id and secret and the Socket Mode app token (default: yes). */
  installAndSocketMode?: boolean;
}

/**
 * Tandem (web and worker on Postgres, local sandboxes running the scripted agent) wired to a
 * FakeSlack, with a git server whose repositories it can check out; and the ways the Slack tests
 * look at a thread.
 */
export interface SlackStack {
  fake: FakeSlack;
  git: TestGit;
  stack: Stack;
  /**
   * Someone mentions the bot in `channel` (in the thread `threadTs` when given): "<@bot> " and
   * `text`, as the message `ts`, posted signed to the events route; returns Slack's view of the ack.
   */
  postMention(
    channel: string,
    ts: string,
    text: string,
    opts?: { threadTs?: string },
  ): ReturnType<typeof postSlack>;
  /** Someone (U0ALICE unless `opts.user`) writes `text` in `channel`, posted signed to the events route. */
  postMessage(
    channel: string,
    text: string,
    opts?: Omit<Parameters<typeof message>[0], "teamId" | "channel" | "text">,
  ): ReturnType<typeof postSlack>;
  /** Someone picks `repo` in the repository picker `messageTs` (its select `blockId`) of the thread. */
  pickRepo(
    channel: string,
    threadTs: string,
    pick: { messageTs: string; blockId: string; repo: string },
  ): ReturnType<typeof postSlack>;
  /** Waits for a message in the thread whose text includes `text`, and returns the first. */
  waitForPost(what: string, channel: string, threadTs: string, text: string): Promise<SlackCall>;
  /** Waits for the repository picker in the thread, and returns its message. */
  waitPicker(channel: string, threadTs: string): Promise<SlackCall>;
  /** The session bound to the thread `threadTs` of `channel` in the test workspace. */
  sessionOf(channel: string, threadTs: string): ReturnType<typeof sessionOfThread>;
  /** Waits for the thread's session. */
  waitSession(
    channel: string,
    threadTs: string,
  ): Promise<NonNullable<Awaited<ReturnType<typeof sessionOfThread>>>>;
  /** The session status messages posted in the thread (the ones with a Stop button, or saying "Tandem session"). */
  statusPosts(channel: string, threadTs: string): SlackCall[];
  /** The edits of the message `ts` in `channel`. */
  updatesOf(channel: string, ts: string): SlackCall[];
  /** Waits for the ts of the session's status message, as Tandem stored it. */
  statusTsOf(sessionId: string): Promise<string>;
  /** The owner registers one of the git server's repositories through the API. */
  registerRepo(name: string): ReturnType<typeof registerRepository>;
  /** Waits until the database says the session is `status`. */
  waitStatus(id: string, status: string): Promise<true>;
  close(): Promise<void>;
}

async function startSlackStack(opts: SlackStackOptions = {}): Promise<SlackStack> {
  const fake = await new FakeSlack().listen();
  let git: TestGit | undefined;
  let stack: Stack;
  try {
    git = await startGitServer(
      SLACK_GIT,
      opts.repos ?? {
        "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" },
        "acme/api": { "README.md": "# api\n" },
      },
    );
    stack = await startStack(
      "postgres",
      {
        SLACK_API_URL: fake.url,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_BOT_TOKEN: "xoxb-test-token",
        ...(opts.installAndSocketMode === false
          ? {}
          : {
              SLACK_CLIENT_ID: "client-id",
              SLACK_CLIENT_SECRET: "client-secret",
              SLACK_APP_TOKEN: "xapp-test-token",
            }),
        SANDBOX_PROVIDER: "local",
      },
      { agent: commandAdapter(AGENT) },
    );
  } catch (err) {
    await git?.close();
    await fake.close();
    throw err;
  }
  const gitServer = git;
  const sessionOf = (channel: string, threadTs: string) =>
    sessionOfThread(stack, `${TEAM_ID}:${channel}:${threadTs}`);
  const isStatus = (c: { body: Record<string, any> }) =>
    JSON.stringify(c.body.blocks ?? []).includes("tandem_stop") ||
    String(c.body.text).startsWith("Tandem session");
  const postWith = (channel: string, threadTs: string, has: (c: SlackCall) => boolean) =>
    fake.postsIn(channel, threadTs).find(has);
  const waitForPost = async (
    what: string,
    channel: string,
    threadTs: string,
    has: (c: SlackCall) => boolean,
  ) => {
    await fake.waitFor(what, () => postWith(channel, threadTs, has) !== undefined);
    return postWith(channel, threadTs, has)!;
  };
  const slack: SlackStack = {
    fake,
    git: gitServer,
    stack,
    postMention: (channel, ts, text, opts = {}) =>
      postSlack(
        stack.base,
        "events",
        mention({ teamId: TEAM_ID, channel, ts, text: `<@${BOT_USER_ID}> ${text}`, ...opts }),
      ),
    postMessage: (channel, text, opts = {}) =>
      postSlack(stack.base, "events", message({ teamId: TEAM_ID, channel, text, ...opts })),
    pickRepo: (channel, threadTs, { messageTs, blockId, repo }) =>
      postSlack(
        stack.base,
        "interactions",
        blockActions({
          teamId: TEAM_ID,
          channel,
          messageTs,
          threadTs,
          action: { action_id: "tandem_pick_repo", block_id: blockId, selected: repo },
        }),
      ),
    waitForPost: (what, channel, threadTs, text) =>
      waitForPost(what, channel, threadTs, (c) => String(c.body.text).includes(text)),
    waitPicker: (channel, threadTs) =>
      waitForPost("the picker", channel, threadTs, (c) =>
        JSON.stringify(c.body.blocks ?? []).includes("tandem_pick_repo"),
      ),
    sessionOf,
    waitSession: (channel, threadTs) =>
      until("the thread's session", () => sessionOf(channel, threadTs), 15_000),
    statusPosts: (channel, threadTs) => fake.postsIn(channel, threadTs).filter(isStatus),
    updatesOf: (channel, ts) =>
      fake.callsTo("chat.update", (c) => c.body.channel === channel && c.body.ts === ts),
    statusTsOf: (sessionId) =>
      until("the status ts", async () => {
        const stored = await stack.rt.database.db
          .select()
          .from(schema.outboundMessages)
          .where(eq(schema.outboundMessages.sessionId, sessionId));
        return stored.find((r) => r.kind === "status")?.externalId;
      }),
    registerRepo: (name) => registerRepository(stack, gitServer, name),
    waitStatus: (id, status) => waitForStatus(stack, id, status, 20_000),
    async close() {
      await stack.close();
      await gitServer.close();
      await fake.close();
    },
  };
  try {
    for (const name of opts.register ?? ["acme/app"]) await slack.registerRepo(name);
  } catch (err) {
    await slack.close();
    throw err;
  }
  return slack;
}

/** The file's Slack stack: started in beforeAll, closed in afterAll (see startedBeforeAll). */
export const useSlackStack = (opts: SlackStackOptions = {}) =>
  startedBeforeAll(() => startSlackStack(opts), 60_000);
