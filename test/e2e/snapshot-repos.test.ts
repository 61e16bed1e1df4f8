import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  publishedWithoutBuildJob,
  registerRepository,
  sandboxOf,
  sessionEvents,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { finishedSnapshot, removeImages, snapshotImageRefs } from "../helpers/profiles.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();
const PASSWORD = "test-git-password-snapshots";

/** git without the machine's or the user's configuration. */
const GIT_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.test",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.test",
};

/** Runs a shell command in a throwaway container of the image (no network). */
const inImage = (image: string, script: string) =>
  spawnSync(
    "docker",
    ["run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", script],
    { encoding: "utf8" },
  );

describe.skipIf(skip)("snapshots with the profile's repositories in docker", () => {
  let git: TestGit;
  let model: ModelServer;
  let s: Stack;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "tandem-snapshot-repos-"));
    git = await startGitServer(
      { username: "u", password: PASSWORD },
      { "acme/app": { "README.md": "# app\n" }, "acme/other": { "other.txt": "other\n" } },
    );
    model = await new ModelServer([
      // The session on the snapshot: what the setup script left, how often it ran, and the checkout.
      {
        shell:
          'cat from-setup.txt && echo "runs=$(wc -l < /home/agent/setup-runs)" && git log -1 --format=%s && git rev-parse --abbrev-ref HEAD && git log -1 --format=%s main',
      },
      { message: "done" },
      // The session on a repository the snapshot does not hold.
      { shell: "pwd && git log -1 --format=%s && ls" },
      { message: "done" },
      // The session on the snapshot from a requested ref.
      {
        shell:
          "git log -1 --format=%s && git rev-parse --abbrev-ref HEAD && git log -1 --format=%s main && cat from-setup.txt",
      },
      { message: "done" },
    ]).listen();
    s = await startStack("postgres", {
      ...dockerModelEnv(model),
    });
    for (const name of ["acme/app", "acme/other"]) {
      const res = await registerRepository(s, git, name);
      expect(res.status).toBe(201);
    }
  }, 60_000);
  afterAll(async () => {
    const images = await snapshotImageRefs(s);
    await s?.close();
    await model?.close();
    await git?.close();
    if (work) rmSync(work, { recursive: true, force: true });
    removeImages(images);
  });

  const finished = (name: string) => finishedSnapshot(s, name, 120_000);
  const commandOutput = (sessionId: string) =>
    until(
      "the agent's command",
      async () => {
        const events = await sessionEvents(s, sessionId);
        const failed = events.find((e) => e.type === "error");
        if (failed) throw new Error(`the session failed: ${JSON.stringify(failed.data)}`);
        return (events.find((e) => e.type === "command")?.data as { output: string } | undefined)
          ?.output;
      },
      120_000,
    );
  /** A commit on the remote's main, as someone pushing after the snapshot was built. */
  const pushCommit = (repo: string, message: string, branch = "main") => {
    const dir = mkdtempSync(path.join(work, "push-"));
    const run = (...args: string[]) =>
      execFileSync("git", args, { cwd: dir, env: GIT_ENV, stdio: "pipe" });
    run("clone", "-q", path.join(git.root, `${repo}.git`), ".");
    if (branch !== "main") run("checkout", "-q", "-b", branch);
    writeFileSync(path.join(dir, "later.txt"), `${message}\n`);
    run("add", "later.txt");
    run("commit", "-q", "-m", message);
    run("push", "-q", "origin", branch);
  };

  it("clones the repositories into the snapshot before the setup script, leaves no token in it, and sessions fetch on top", async () => {
    expect((await s.owner.request("POST", "/api/profiles", { name: "mono" })).status).toBe(201);
    const spec = {
      repositories: [{ name: "acme/app", primary: true }],
      agent: { kind: "codex", model: "profile-model" },
      // The script finds the clone where sessions will; it also keeps the build token it was given.
      setupScript: [
        "set -e",
        "test -f acme/app/README.md",
        "echo built-by-setup > acme/app/from-setup.txt",
        "echo run >> /home/agent/setup-runs",
        'cp "$TANDEM_TOKEN_FILE" /home/agent/kept-token',
        "echo setup-done",
      ].join("\n"),
    };
    expect((await s.owner.request("PUT", "/api/profiles/mono/draft", { spec })).status).toBe(200);
    expect((await s.owner.request("POST", "/api/profiles/mono/publish")).status).toBe(202);
    const snapshot = await finished("mono");
    expect(snapshot, snapshot.log).toMatchObject({ status: "ready" });
    expect(snapshot.log).toMatch(
      /cloned acme\/app \(main at [0-9a-f]+\) into \/workspace\/acme\/app/,
    );
    expect(snapshot.log).toContain("setup-done");
    expect(snapshot.log).not.toContain(PASSWORD);

    // The image holds the clone and the script's file, and no token file.
    const image = inImage(
      snapshot.imageRef,
      [
        "cat /workspace/acme/app/README.md /workspace/acme/app/from-setup.txt",
        "git -C /workspace/acme/app rev-parse --abbrev-ref HEAD",
        "ls -A /home/agent/.tandem",
      ].join(" && "),
    );
    expect(image.stderr).toBe("");
    expect(image.stdout).toBe("# app\nbuilt-by-setup\nmain\ngit-credential-tandem\n");
    // The token the script kept is dead: the build revoked it.
    const kept = inImage(snapshot.imageRef, "cat /home/agent/kept-token").stdout.trim();
    expect(kept).toMatch(/^tdm_/);
    expect(await s.rt.database.db.select().from(schema.sandboxTokens)).toEqual([]);
    const repoId = (await s.owner.request("GET", "/api/repositories")).body.repositories.find(
      (r: { name: string }) => r.name === "acme/app",
    ).id;
    const asked = await fetch(`${s.base}/sandbox/git/${repoId}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${kept}` },
    });
    expect(asked.status).toBe(401);

    pushCommit("acme/app", "pushed after the snapshot");
    // No repository named: the profile's primary one.
    const created = await s.owner.request("POST", "/api/sessions", {
      prompt: "show it",
      profile: "mono",
    });
    expect(created.status).toBe(201);
    const output = await commandOutput(created.body.id);
    expect(output).toBe(
      `built-by-setup\nruns=1\npushed after the snapshot\ntandem/${created.body.id.slice(0, 8)}\npushed after the snapshot\n`,
    );
    const sandbox = await sandboxOf(s, created.body.id);
    expect((await s.sandboxes.inspect(sandbox!.externalId!)).image).toBe(snapshot.imageRef);
    // The profile's model, not AGENT_MODEL.
    expect(model.responseRequests[0]!.body.model).toBe("profile-model");
    await s.owner.request("POST", `/api/sessions/${created.body.id}/stop`);
  }, 300_000);

  it("clones a repository the snapshot does not hold, as without a snapshot", async () => {
    await until(
      "the first session's turn to end",
      async () => model.responseRequests.length >= 2,
      60_000,
    );
    const created = await s.owner.request("POST", "/api/sessions", {
      prompt: "show it",
      profile: "mono",
      repository: "acme/other",
    });
    expect(created.status).toBe(201);
    expect(await commandOutput(created.body.id)).toBe(
      "/workspace/acme/other\ninitial commit\nother.txt\n",
    );
    await s.owner.request("POST", `/api/sessions/${created.body.id}/stop`);
  }, 180_000);

  it("starts from a requested ref on top of the snapshot's clone", async () => {
    await until(
      "the second session's turn to end",
      async () => model.responseRequests.length >= 4,
      60_000,
    );
    pushCommit("acme/app", "on the feature branch", "feature");
    const created = await s.owner.request("POST", "/api/sessions", {
      prompt: "show it",
      profile: "mono",
      ref: "feature",
    });
    expect(created.status).toBe(201);
    expect(await commandOutput(created.body.id)).toBe(
      `on the feature branch\ntandem/${created.body.id.slice(0, 8)}\npushed after the snapshot\nbuilt-by-setup\n`,
    );
    await s.owner.request("POST", `/api/sessions/${created.body.id}/stop`);
  }, 180_000);

  it("runs the agent the profile names, with its model and reasoning effort", async () => {
    await s.owner.request("POST", "/api/profiles", { name: "scripted" });
    const say = JSON.stringify({ type: "message", role: "assistant", text: "MARK" }).replace(
      "MARK",
      "model=$TANDEM_MODEL effort=$TANDEM_REASONING_EFFORT",
    );
    const spec = {
      agent: {
        kind: "command",
        command: ["sh", "-c", `echo "${say.replaceAll('"', '\\"')}"`],
        model: "m-1",
        reasoningEffort: "low",
      },
    };
    expect((await s.owner.request("PUT", "/api/profiles/scripted/draft", { spec })).status).toBe(
      200,
    );
    expect((await s.owner.request("POST", "/api/profiles/scripted/publish")).body).toMatchObject({
      snapshot: { status: "ready" },
    });
    const created = await s.owner.request("POST", "/api/sessions", {
      prompt: "hi",
      profile: "scripted",
      repository: "acme/other",
    });
    expect(created.status).toBe(201);
    const said = await until(
      "the agent's message",
      async () => {
        const events = await sessionEvents(s, created.body.id);
        return (
          events.find(
            (e) => e.type === "message" && (e.data as { role: string }).role === "assistant",
          )?.data as { text: string } | undefined
        )?.text;
      },
      90_000,
    );
    expect(said).toBe("model=m-1 effort=low");
    expect((await s.owner.request("GET", `/api/sessions/${created.body.id}`)).body.agent).toBe(
      "command",
    );
    await s.owner.request("POST", `/api/sessions/${created.body.id}/stop`);
  }, 120_000);

  it("fails the build with a clear log line when a repository is no longer registered", async () => {
    await publishedWithoutBuildJob(s, "gone", {
      repositories: [{ name: "acme/app" }, { name: "acme/gone" }],
    });
    const failed = await finished("gone");
    expect(failed).toMatchObject({ status: "failed", imageRef: null });
    expect(failed.log).toBe(
      "the snapshot could not be built: unknown repository acme/gone: register it first (POST /api/repositories)\n",
    );
  }, 60_000);
});
