import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execCollect, schema, type SandboxProvider } from "@tandem/core";
import { eq } from "drizzle-orm";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "../helpers/docker.ts";
import { registerRepository, sandboxOf, startGitServer, type TestGit } from "../helpers/e2e.ts";
import { openSse } from "../helpers/sse.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const GIT_USER = "tandem-test";
const GIT_PASSWORD = "test-git-password";
const UPSTREAM_KEY = "test-upstream-key";

const providers: Array<[string, boolean]> = [
  ["docker", !dockerAvailable()],
  ["local", false],
];

describe.each(providers)("a session runs the real Codex CLI in a %s sandbox", (provider, skip) => {
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;
  let sandboxes: SandboxProvider;

  beforeAll(async () => {
    if (skip) return;
    git = await startGitServer(
      { username: GIT_USER, password: GIT_PASSWORD },
      { "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" } },
    );
    model = await new ModelServer([
      { shell: "echo hello-from-agent && cat hello.txt" },
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: "Updated hello.txt." },
      { shell: "git status --short" },
      { message: "Second turn done." },
    ]).listen();
    stack = await startStack("postgres", {
      SANDBOX_PROVIDER: provider,
      SANDBOX_IMAGE,
      MODEL_UPSTREAM_URL: model.url,
      MODEL_UPSTREAM_API_KEY: UPSTREAM_KEY,
      AGENT_MODEL: "test-model",
    });
    sandboxes = stack.sandboxes;
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await model?.close();
    await git?.close();
  });

  it.skipIf(skip)(
    "checks out, runs two turns, streams commands and file changes, and stops",
    async () => {
      const repo = await registerRepository(stack, git, "acme/app");
      expect(repo.status).toBe(201);
      const created = await stack.owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "Say hello, then update hello.txt",
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const events = await openSse(`${stack.base}/api/sessions/${id}/events`, {
        authorization: `Bearer ${stack.owner.token}`,
      });
      const statuses = () =>
        events.frames.filter((f) => f.data.type === "status").map((f) => f.data.status);

      await until(
        "the first turn to end",
        async () =>
          statuses().filter((s) => s === "idle").length === 1 || statuses().includes("failed"),
        90_000,
      );
      expect(statuses()).toEqual(["queued", "starting", "running", "idle"]);
      const command = events.frames.find((f) => f.data.type === "command")!.data;
      expect(command.command).toContain("echo hello-from-agent");
      expect(command.output).toContain("hello-from-agent\nhello\n");
      expect(command.exitCode).toBe(0);
      expect(events.frames.find((f) => f.data.type === "file_change")!.data).toMatchObject({
        path: expect.stringMatching(/hello\.txt$/),
        kind: "update",
      });
      expect(
        events.frames
          .filter((f) => f.data.type === "message" && f.data.role === "assistant")
          .map((f) => f.data.text),
      ).toEqual(["Updated hello.txt."]);

      const followUp = await stack.owner.request("POST", `/api/sessions/${id}/messages`, {
        text: "Now show git status",
      });
      expect(followUp.status).toBe(202);
      await until(
        "the second turn to end",
        async () =>
          statuses().filter((s) => s === "idle").length === 2 || statuses().includes("failed"),
        90_000,
      );
      expect(
        events.frames
          .filter((f) => f.data.type === "message" && f.data.role === "assistant")
          .map((f) => f.data.text),
      ).toEqual(["Updated hello.txt.", "Second turn done."]);
      // The follow-up resumed the same agent thread: the model saw the first turn's conversation.
      const lastRequest = JSON.stringify(model.responseRequests.at(-1)!.body);
      expect(lastRequest).toContain("Say hello, then update hello.txt");
      expect(lastRequest).toContain("Now show git status");

      // The work is on the session's branch in the sandbox.
      const sandbox = await sandboxOf(stack, id);
      const workdir = `${sandboxes.layout(sandbox!.externalId!).workspace}/acme/app`;
      const diff = await execCollect(sandboxes, sandbox!.externalId!, [
        "git",
        "-C",
        workdir,
        "diff",
      ]);
      expect(diff.stdout).toContain("+hello, world");
      const branch = await execCollect(sandboxes, sandbox!.externalId!, [
        "git",
        "-C",
        workdir,
        "branch",
        "--show-current",
      ]);
      expect(branch.stdout.trim()).toBe(`tandem/${id.slice(0, 8)}`);

      // The model saw only the upstream key, never the sandbox's token; the git server saw the credential.
      for (const r of model.requests)
        expect(r.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
      const session = await stack.owner.request("GET", `/api/sessions/${id}`);
      expect(session.body).toMatchObject({ status: "idle", branch: `tandem/${id.slice(0, 8)}` });

      const stopped = await stack.owner.request("POST", `/api/sessions/${id}/stop`);
      expect(stopped.body.status).toBe("stopped");
      await until(
        "the sandbox to be removed",
        async () => (await sandboxes.inspect(sandbox!.externalId!)).state === "missing",
        15_000,
      );
      await events.close();
      const row = (
        await stack.rt.database.db.select().from(schema.sessions).where(eq(schema.sessions.id, id))
      )[0]!;
      expect(row.inputTokens).toBeGreaterThan(0);
      if (provider === "docker")
        expect(spawnSync("docker", ["inspect", sandbox!.externalId!]).status).not.toBe(0);
    },
    180_000,
  );
});
