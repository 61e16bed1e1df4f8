import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, sessionUrl } from "@tandem/core";
import { BOT_USER_ID, FakeSlack, TEAM_ID } from "../fixtures/fake-slack.ts";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sessionOfThread,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { mention, newTs, postSlack, SIGNING_SECRET } from "../helpers/slack.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const GIT = { username: "tandem-test", password: "test-git-password" };
const skip = !dockerAvailable();

describe("Slack end to end: a mention runs the real agent in a Docker sandbox", () => {
  let fake: FakeSlack;
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;

  beforeAll(async () => {
    if (skip) return;
    fake = await new FakeSlack().listen();
    git = await startGitServer(GIT, {
      "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" },
    });
    model = await new ModelServer([
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: "I updated hello.txt to greet the world." },
    ]).listen();
    stack = await startStack("postgres", {
      ...dockerModelEnv(model),
      SLACK_API_URL: fake.url,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: "xoxb-e2e",
    });
    const repo = await registerRepository(stack, git, "acme/app");
    expect(repo.status).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await model?.close();
    await git?.close();
    await fake?.close();
  });

  it.skipIf(skip)(
    'mention → sandbox → the agent edits a file → a summary with "1 file changed" in the thread',
    async () => {
      const ts = newTs();
      const ack = await postSlack(
        stack.base,
        "events",
        mention({
          teamId: TEAM_ID,
          channel: "CE2E",
          ts,
          text: `<@${BOT_USER_ID}> say hello to the world in hello.txt`,
        }),
      );
      expect(ack.status).toBe(200);
      expect(ack.ackMs).toBeLessThan(3_000);

      await fake.waitFor(
        "the summary",
        () => fake.postsIn("CE2E", ts).some((c) => String(c.body.text).includes("1 file changed")),
        150_000,
      );
      const session = await sessionOfThread(stack, `${TEAM_ID}:CE2E:${ts}`);
      const url = sessionUrl("http://tandem.test", session!.id);
      const summary = fake
        .postsIn("CE2E", ts)
        .find((c) => String(c.body.text).includes("1 file changed"))!;
      expect(summary.body.text).toContain("I updated hello.txt to greet the world.");
      expect(summary.body.text).toContain("1 file changed (+1 −1)");
      expect(JSON.stringify(summary.body.blocks)).toContain("`hello.txt` +1 −1");
      expect(summary.body.text).toContain(`View session: ${url}`);

      expect(fake.callsTo("reactions.add", (c) => c.body.timestamp === ts)).toHaveLength(1);
      const status = fake
        .postsIn("CE2E", ts)
        .filter((c) => JSON.stringify(c.body.blocks ?? []).includes("tandem_stop"));
      expect(status).toHaveLength(1);
      const statusTs = await until(
        "the stored status message",
        async () =>
          (
            await stack.rt.database.db
              .select()
              .from(schema.outboundMessages)
              .where(eq(schema.outboundMessages.sessionId, session!.id))
          ).find((r) => r.kind === "status")?.externalId,
      );
      await fake.waitFor(
        "the status to say it waits for input",
        () =>
          fake.callsTo(
            "chat.update",
            (c) => c.body.ts === statusTs && String(c.body.text).includes("Waiting for input"),
          ).length > 0,
        15_000,
      );
      // Edited in place, at most about once a second (a short run may go from Starting straight to Waiting).
      const edits = fake.callsTo("chat.update", (c) => c.body.ts === statusTs);
      for (let i = 1; i < edits.length; i++)
        expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThan(500);
    },
    200_000,
  );
});
