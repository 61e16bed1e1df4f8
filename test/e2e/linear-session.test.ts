import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, sessionUrl } from "@tandem/core";
import { FakeLinear } from "../fixtures/fake-linear.ts";
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
  agentSessionCreated,
  agentSessionPrompted,
  LINEAR_WEBHOOK_SECRET,
  postLinear,
} from "../helpers/linear.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const GIT = { username: "tandem-test", password: "test-git-password" };
const FIRST_SUMMARY = "I updated hello.txt to greet the world.";
const FOLLOW_UP = "Please also say goodbye in hello.txt";
const SECOND_REPLY = "Added a goodbye line to hello.txt.";
const skip = !dockerAvailable();

describe("Linear end to end: an agent session runs the real agent in a Docker sandbox", () => {
  let fake: FakeLinear;
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;

  beforeAll(async () => {
    if (skip) return;
    fake = await new FakeLinear().listen();
    git = await startGitServer(GIT, {
      "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" },
    });
    model = await new ModelServer([
      // The first turn: an edit, then the summary.
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: FIRST_SUMMARY },
      // The follow-up: another small edit, then the reply.
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n hello, world\n+goodbye\n*** End Patch\n",
      },
      { message: SECOND_REPLY },
    ]).listen();
    stack = await startStack("postgres", {
      ...dockerModelEnv(model),
      LINEAR_API_URL: fake.url,
      LINEAR_API_KEY: "lin_api_e2e_test_key",
      LINEAR_WEBHOOK_SECRET,
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
    "created → a thought, the View session link, an Edited action, one response; prompted → a second turn of the same session",
    async () => {
      const issue = fake.addIssue({ title: "The greeting is too short" });
      const agentSessionId = fake.addSession({ issueId: issue.id }).id;
      const activities = () => fake.activitiesOf(agentSessionId);
      const responses = () => activities().filter((a) => a.content.type === "response");
      const finals = () =>
        activities().filter((a) => ["response", "error", "elicitation"].includes(a.content.type));

      const created = await postLinear(
        stack.base,
        agentSessionCreated({
          agentSessionId,
          issue,
          comment: { body: "@tandem say hello to the world in hello.txt" },
        }),
      );
      expect(created.status).toBe(200);

      await fake.waitFor("the first activity", () => activities().length > 0, 10_000);
      expect(activities()[0]!.content).toEqual({
        type: "thought",
        body: "Starting a sandbox for acme/app…",
      });

      const session = await until(
        "the agent session's Tandem session",
        () => sessionOfThread(stack, agentSessionId, "linear"),
        20_000,
      );
      const url = sessionUrl(stack.rt.config.PUBLIC_URL, session.id);
      await fake.waitFor(
        "the View session link",
        () => (fake.sessionOf(agentSessionId)?.externalUrls.length ?? 0) > 0,
      );
      expect(fake.sessionOf(agentSessionId)!.externalUrls).toEqual([
        { label: "View session", url },
      ]);

      // The first turn ends with one response.
      await fake.waitFor("the first response", () => finals().length > 0, 150_000);
      await waitForStatus(stack, session.id, "idle");
      expect(finals().map((a) => a.content.type)).toEqual(["response"]);
      const first = responses()[0]!;
      expect(first.content.body).toContain(FIRST_SUMMARY);
      expect(first.content.body).toContain("**1 file changed** (+1 −1)");
      expect(first.content.body).toContain("- `hello.txt` +1 −1");
      expect(first.content.body).toContain(`[View session](${url})`);
      // The edit was reported as an action before the response, by its path in the repository (the
      // real Codex CLI reports /workspace/acme/app/hello.txt; people read the repository's path).
      const firstIndex = activities().indexOf(first);
      const editsBefore = activities()
        .slice(0, firstIndex)
        .filter((a) => a.content.type === "action" && a.content.action === "Edited");
      expect(editsBefore.map((a) => a.content.parameter)).toEqual(["hello.txt"]);

      // The file really changed in the session's work, in a Docker sandbox.
      expect((await sandboxOf(stack, session.id))?.provider).toBe("docker");
      const changes = await stack.owner.request("GET", `/api/sessions/${session.id}/changes`);
      expect(changes.status).toBe(200);
      const hello = changes.body.files.find((f: { path: string }) => f.path === "hello.txt");
      expect(hello).toMatchObject({ status: "modified", added: 1, removed: 1 });
      expect(hello.patch).toContain("+hello, world");

      // A follow-up written in the agent session: a second turn of the same Tandem session.
      const requestsBefore = model.responseRequests.length;
      const prompted = await postLinear(
        stack.base,
        agentSessionPrompted({ agentSessionId, body: FOLLOW_UP, issue }),
      );
      expect(prompted.status).toBe(200);
      await fake.waitFor("the second response", () => finals().length > 1, 150_000);
      await waitForStatus(stack, session.id, "idle");
      expect(finals().map((a) => a.content.type)).toEqual(["response", "response"]);
      const second = responses()[1]!;
      expect(second.content.body).toContain(SECOND_REPLY);
      expect(second.content.body).not.toContain(FIRST_SUMMARY);
      expect(second.content.body).toContain("- `hello.txt` +2 −1");
      expect(second.content.body).toContain(`[View session](${url})`);
      const secondEdits = activities()
        .slice(firstIndex + 1)
        .filter((a) => a.content.type === "action" && a.content.action === "Edited");
      expect(secondEdits.map((a) => a.content.parameter)).toEqual(["hello.txt"]);

      // The model got the second turn's request, carrying the follow-up.
      const turnTwo = model.responseRequests.slice(requestsBefore);
      expect(turnTwo.length).toBeGreaterThan(0);
      expect(JSON.stringify(turnTwo[0]!.body)).toContain(FOLLOW_UP);
      expect(turnTwo.some((r) => r.exhausted)).toBe(false);

      // One Tandem session, one binding, two turns.
      const bindings = await stack.rt.database.db
        .select()
        .from(schema.sessionBindings)
        .where(eq(schema.sessionBindings.provider, "linear"));
      expect(bindings.map((b) => [b.threadKey, b.sessionId])).toEqual([
        [agentSessionId, session.id],
      ]);
      expect(await stack.rt.database.db.select().from(schema.sessions)).toHaveLength(1);
      const turns = await stack.rt.database.db
        .select()
        .from(schema.sessionTurns)
        .where(eq(schema.sessionTurns.sessionId, session.id));
      expect(turns).toHaveLength(2);

      const after = await stack.owner.request("GET", `/api/sessions/${session.id}/changes`);
      const helloAfter = after.body.files.find((f: { path: string }) => f.path === "hello.txt");
      expect(helloAfter).toMatchObject({ status: "modified", added: 2, removed: 1 });
      expect(helloAfter.patch).toContain("+goodbye");
    },
    300_000,
  );
});
