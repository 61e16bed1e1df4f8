import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, sessionUrl } from "@tandem/core";
import { FakeJira } from "../fixtures/fake-jira.ts";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  sessionOfThread,
  startGitServer,
  waitForStatus,
  type TestGit,
} from "../helpers/e2e.ts";
import {
  AGENT_ACCOUNT_ID,
  commentCreated,
  HUMAN_ACCOUNT_ID,
  JIRA_API_TOKEN,
  JIRA_EMAIL,
  JIRA_WEBHOOK_SECRET,
  postJira,
  wikiMention,
} from "../helpers/jira.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const GIT = { username: "tandem-test", password: "test-git-password" };
const SUMMARY = "I updated hello.txt to greet the world.";
const skip = !dockerAvailable();

describe("Jira end to end: a mention runs the real agent in a Docker sandbox", () => {
  let fake: FakeJira;
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;

  beforeAll(async () => {
    if (skip) return;
    fake = await new FakeJira({ email: JIRA_EMAIL, apiToken: JIRA_API_TOKEN }).listen();
    git = await startGitServer(GIT, {
      "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" },
    });
    model = await new ModelServer([
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: SUMMARY },
    ]).listen();
    stack = await startStack("postgres", {
      ...dockerModelEnv(model),
      JIRA_BASE_URL: fake.url,
      JIRA_EMAIL,
      JIRA_API_TOKEN,
      JIRA_WEBHOOK_SECRET,
    });
    await registerRepository(stack, git, "acme/app");
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await model?.close();
    await git?.close();
    await fake?.close();
  });

  it.skipIf(skip)(
    "a mention comment → one comment with the View session link, edited in place to the summary with the diff stats",
    async () => {
      const issue = fake.addIssue({ summary: "The greeting is too short" });
      const res = await postJira(
        stack.base,
        commentCreated({
          site: fake.url,
          issue,
          body: `${wikiMention(AGENT_ACCOUNT_ID)} say hello to the world in hello.txt`,
        }),
      );
      expect(res.status).toBe(200);
      const key = `${new URL(fake.url).host}/${issue.key}`;
      const session = await until(
        "the issue's session",
        () => sessionOfThread(stack, key, "jira"),
        20_000,
      );
      const url = sessionUrl(stack.rt.config.PUBLIC_URL, session.id);
      // The comment is there at once, with the link, before the agent has done anything.
      await until(
        "the tracking comment",
        async () => fake.commentsOn(issue.key).length > 0,
        15_000,
      );
      const [first] = fake.commentsOn(issue.key);
      expect(JSON.stringify(first!.body)).toContain(`"href":"${url}"`);

      await waitForStatus(stack, session.id, "idle", 150_000);
      await until(
        "the summary in the comment",
        async () => fake.textOf(fake.commentsOn(issue.key)[0]!.current).includes(SUMMARY),
        20_000,
      );
      const comments = fake.commentsOn(issue.key);
      expect(comments).toHaveLength(1);
      const final = comments[0]!.current;
      const text = fake.textOf(final);
      expect(text).toContain(SUMMARY);
      expect(text).toContain("1 file changed (+1 −1)");
      expect(text).toMatch(/hello\.txt \+1 −1/);
      expect(text).toContain("View session");
      const json = JSON.stringify(final);
      expect(json).toContain(`"href":"${url}"`);
      // The summary is ADF nodes (bold as a mark, the file as code), with the requester mentioned.
      expect(json).toContain(`"type":"strong"`);
      expect(json).toContain(`"type":"code"`);
      expect(json).toContain(`"id":"${HUMAN_ACCOUNT_ID}"`);
      expect(json).not.toContain("**");
      expect(fake.calls.filter((c) => c.invalid)).toEqual([]);

      // The real agent really changed the file, in a Docker sandbox.
      expect((await sandboxOf(stack, session.id))?.provider).toBe("docker");
      const changes = await stack.owner.request("GET", `/api/sessions/${session.id}/changes`);
      const hello = changes.body.files.find((f: { path: string }) => f.path === "hello.txt");
      expect(hello).toMatchObject({ status: "modified", added: 1, removed: 1 });
      const bindings = await stack.rt.database.db
        .select()
        .from(schema.sessionBindings)
        .where(eq(schema.sessionBindings.provider, "jira"));
      expect(bindings.map((b) => [b.threadKey, b.url])).toEqual([
        [key, `${fake.url}/browse/${issue.key}`],
      ]);
    },
    300_000,
  );
});
