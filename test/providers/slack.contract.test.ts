import { and, eq } from "drizzle-orm";
import { commandAdapter, schema } from "@tandem/core";
import { BOT_ID, BOT_USER_ID, FakeSlack, TEAM_ID } from "../fixtures/fake-slack.ts";
import { startGitHttpServer } from "../fixtures/git-http-server.ts";
import {
  blockActions,
  mention,
  message,
  newEventId,
  newTs,
  postSlack,
  SIGNING_SECRET,
} from "../helpers/slack.ts";
import { startStack, until } from "../helpers/stack.ts";
import { providerContract, type ContractThread } from "./contract.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];
const GIT = { username: "tandem-test", password: "test-git-password" };

providerContract("Slack", async () => {
  const fake = await new FakeSlack().listen();
  const git = await startGitHttpServer(GIT);
  git.createRepo("acme/app", { "README.md": "# app\n", "hello.txt": "hello\n" });
  const stack = await startStack(
    "postgres",
    {
      SLACK_API_URL: fake.url,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: "xoxb-test-token",
      SANDBOX_PROVIDER: "local",
    },
    { agent: commandAdapter(AGENT) },
  );
  const repo = await stack.owner.request("POST", "/api/repositories", {
    name: "acme/app",
    cloneUrl: git.url("acme/app"),
    defaultBranch: "main",
    credential: GIT,
  });
  if (repo.status !== 201) throw new Error(`repository: ${repo.status}`);

  let threads = 0;
  const thread = (): ContractThread => {
    // A channel per thread: every call about it names the channel.
    const channel = `CCONTRACT${++threads}`;
    const ts = newTs();
    const inChannel = () => fake.calls.filter((c) => c.body.channel === channel);
    const text = (c: { body: Record<string, any> }) =>
      `${String(c.body.text)} ${JSON.stringify(c.body.blocks ?? [])}`;
    const isStatus = (c: { body: Record<string, any> }) =>
      String(c.body.text).startsWith("Tandem session");
    const start = async (words: string, delivery = newEventId()) => {
      const body = mention({
        teamId: TEAM_ID,
        channel,
        ts,
        text: `<@${BOT_USER_ID}> ${words}`,
        eventId: delivery,
      });
      return { status: (await postSlack(stack.base, "events", body)).status, delivery };
    };
    return {
      key: `${TEAM_ID}:${channel}:${ts}`,
      start,
      followUp: async (words) =>
        (
          await postSlack(
            stack.base,
            "events",
            message({ teamId: TEAM_ID, channel, threadTs: ts, text: words }),
          )
        ).status,
      async stop(session) {
        const statusTs = await until("the status message's ts", async () => {
          const row = await stack.rt.database.db.query.outboundMessages.findFirst({
            where: and(
              eq(schema.outboundMessages.sessionId, session.id),
              eq(schema.outboundMessages.kind, "status"),
            ),
          });
          return row?.externalId ?? undefined;
        });
        const action = blockActions({
          teamId: TEAM_ID,
          channel,
          messageTs: statusTs,
          threadTs: ts,
          action: { action_id: "tandem_stop", value: session.id },
        });
        return (await postSlack(stack.base, "interactions", action)).status;
      },
      fromBot: async (words) =>
        (
          await postSlack(
            stack.base,
            "events",
            message({
              teamId: TEAM_ID,
              channel,
              ts,
              user: BOT_USER_ID,
              botId: BOT_ID,
              text: `<@${BOT_USER_ID}> ${words}`,
            }),
          )
        ).status,
      badlySigned: async (words) =>
        (
          await postSlack(
            stack.base,
            "events",
            mention({ teamId: TEAM_ID, channel, ts, text: `<@${BOT_USER_ID}> ${words}` }),
            { secret: "not-the-signing-secret" },
          )
        ).status,
      calls: inChannel,
      statusPosts: () => fake.postsIn(channel, ts).filter(isStatus).map(text),
      statusEdits: () => fake.callsTo("chat.update", (c) => c.body.channel === channel).map(text),
      failureReports: (reason) =>
        fake
          .postsIn(channel, ts)
          .map((c) => String(c.body.text))
          .filter((t) => t.startsWith(`The session failed: ${reason}`)),
    };
  };

  return {
    provider: "slack",
    stack,
    thread,
    async close() {
      await stack.close();
      await git.close();
      await fake.close();
    },
  };
});
