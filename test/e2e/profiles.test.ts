import { spawnSync } from "node:child_process";
import { eq } from "drizzle-orm";
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
import {
  finishedSnapshot,
  profileView,
  removeImages,
  snapshotImageRefs,
} from "../helpers/profiles.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();

describe.skipIf(skip)("sandbox profiles and snapshots in docker", () => {
  let git: TestGit;
  let model: ModelServer;
  let s: Stack;

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "test-git-password" },
      { "acme/app": { "README.md": "# app\n" } },
    );
    model = await new ModelServer([
      { shell: 'cat /home/agent/from-setup.txt && echo "env=$FROM_PROFILE"' },
      { message: "done" },
    ]).listen();
    s = await startStack("postgres", {
      ...dockerModelEnv(model),
    });
    await registerRepository(s, git, "acme/app");
  }, 60_000);
  afterAll(async () => {
    const images = await snapshotImageRefs(s);
    await s?.close();
    await model?.close();
    await git?.close();
    removeImages(images);
  });

  const profile = (name: string) => profileView(s, name);
  /** Polls the API until the newest published version's snapshot has finished. */
  const finished = (name: string) => finishedSnapshot(s, name, 90_000);
  const startOn = (name: string) =>
    s.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "show it",
      profile: name,
    });

  it("builds a published version's snapshot once, and sessions on the profile start from it", async () => {
    expect((await s.owner.request("POST", "/api/profiles", { name: "node" })).status).toBe(201);
    const spec = {
      setupScript:
        "echo setup-started && sleep 3 && echo built-by-setup > /home/agent/from-setup.txt && echo setup-done",
      env: { FROM_PROFILE: "yes" },
      limits: { pids: 512 },
    };
    expect((await s.owner.request("PUT", "/api/profiles/node/draft", { spec })).status).toBe(200);
    const first = await s.owner.request("POST", "/api/profiles/node/publish");
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      version: 1,
      status: "published",
      snapshot: { status: "queued" },
    });
    // The log grows while the build runs: the workbench follows it.
    await until(
      "the log of the running build",
      async () => {
        const snapshot = (await profile("node")).published[0].snapshot;
        return snapshot.status === "running" && snapshot.log.includes("setup-started");
      },
      30_000,
    );
    // Asking again while the build is queued or running gives the same snapshot, not a second build.
    await until(
      "the build to run",
      async () => (await profile("node")).published[0].snapshot.status !== "queued",
      30_000,
    );
    const second = await s.owner.request("POST", "/api/profiles/node/publish");
    expect(second.body).toMatchObject({
      id: first.body.id,
      version: 1,
      snapshot: { id: first.body.snapshot.id, status: "running" },
    });

    const snapshot = await finished("node");
    expect(snapshot).toMatchObject({
      id: first.body.snapshot.id,
      status: "ready",
      imageRef: `tandem/snapshot:${first.body.id.slice(0, 8)}-1`,
    });
    expect(snapshot.log).toContain("setup-done");
    const rows = await s.rt.database.db
      .select()
      .from(schema.snapshots)
      .where(eq(schema.snapshots.profileVersionId, first.body.id));
    expect(rows).toHaveLength(1);
    expect(await profile("node")).toMatchObject({ inUse: 1, draft: { version: 2, spec } });
    // The one-off build sandbox is gone.
    const leftovers = spawnSync(
      "docker",
      ["ps", "-aq", "--filter", `label=tandem.snapshot=${snapshot.id}`],
      { encoding: "utf8" },
    ).stdout.trim();
    expect(leftovers).toBe("");

    const created = await startOn("node");
    expect(created.status).toBe(201);
    const command = await until(
      "the agent's command",
      async () => {
        const events = await sessionEvents(s, created.body.id);
        return events.find((e) => e.type === "command")?.data as { output: string } | undefined;
      },
      90_000,
    );
    expect(command.output).toContain("built-by-setup\nenv=yes");
    const sandbox = await sandboxOf(s, created.body.id);
    expect((await s.sandboxes.inspect(sandbox!.externalId!)).image).toBe(snapshot.imageRef);
    await s.owner.request("POST", `/api/sessions/${created.body.id}/stop`);
  }, 180_000);

  it("marks a failing setup script's snapshot failed and keeps the earlier image in use", async () => {
    const v1 = (await profile("node")).published[0];
    expect(v1.snapshot.status).toBe("ready");
    await s.owner.request("PUT", "/api/profiles/node/draft", {
      spec: { setupScript: "echo about-to-fail; exit 3", env: {} },
    });
    expect((await s.owner.request("POST", "/api/profiles/node/publish")).body).toMatchObject({
      version: 2,
    });
    const failed = await finished("node");
    expect(failed).toMatchObject({ status: "failed", imageRef: null });
    expect(failed.log).toContain("about-to-fail");
    expect(failed.log).toContain("setup script exited with 3");
    expect(await profile("node")).toMatchObject({
      inUse: 1,
      published: [{ version: 2 }, { version: 1 }],
    });

    const created = await startOn("node");
    expect(created.status).toBe(201);
    const [row] = await s.rt.database.db
      .select()
      .from(schema.sessions)
      .where(eq(schema.sessions.id, created.body.id));
    expect(row!.profileVersionId).toBe(v1.id);
    await s.owner.request("POST", `/api/sessions/${created.body.id}/stop`);
  }, 120_000);

  it("refuses sessions on a profile whose version has no ready snapshot", async () => {
    await s.owner.request("POST", "/api/profiles", { name: "broken" });
    await s.owner.request("PUT", "/api/profiles/broken/draft", {
      spec: { setupScript: "exit 1", env: {} },
    });
    await s.owner.request("POST", "/api/profiles/broken/publish");
    expect(await finished("broken")).toMatchObject({ status: "failed" });
    const refused = await startOn("broken");
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe(
      "profile broken v1 has no ready snapshot yet (status: failed)",
    );
  }, 120_000);

  it("builds a snapshot that was committed as queued but never reached the queue", async () => {
    // As if Redis was away at publish time: a published version with a queued snapshot and no job.
    await publishedWithoutBuildJob(s, "orphan", { setupScript: "echo orphan-built", env: {} });
    expect(await finished("orphan")).toMatchObject({
      status: "ready",
      log: expect.stringContaining("orphan-built"),
    });
  }, 120_000);
});
