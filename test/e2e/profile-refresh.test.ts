import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { profileView, removeImages, snapshotImageRefs } from "../helpers/profiles.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();
const imageExists = (ref: string) =>
  spawnSync("docker", ["image", "inspect", ref], { stdio: "ignore" }).status === 0;
/** A snapshot-named image labelled with an org, as another install sharing this engine would leave. */
function labelledImage(ref: string, orgId: string) {
  const res = spawnSync("docker", ["build", "-q", "-t", ref, "-"], {
    input: `FROM ${SANDBOX_IMAGE}\nLABEL tandem.org="${orgId}"\n`,
    encoding: "utf8",
  });
  if (res.status !== 0) throw new Error(`docker build failed: ${res.stderr}`);
}

describe.skipIf(skip)("profile refresh, refresh schedules and snapshot image GC in docker", () => {
  let git: TestGit;
  let model: ModelServer;
  let s: Stack;
  /** What the setup script fetches (through the gateway, by an allowed alias): "ok" builds, anything else fails the build. */
  let mode = "ok";
  let modeServer: Server;
  let modeUrl: string;
  const extraImages: string[] = [];

  beforeAll(async () => {
    modeServer = createServer((_req, res) => {
      res.writeHead(mode === "ok" ? 200 : 500).end(mode);
    });
    await new Promise<void>((resolve) => modeServer.listen(0, "127.0.0.1", resolve));
    const modePort = (modeServer.address() as AddressInfo).port;
    modeUrl = "http://mode.tandem.test/mode";
    git = await startGitServer(
      { username: "u", password: "test-git-password" },
      { "acme/app": { "README.md": "# app\n" } },
    );
    model = await new ModelServer([{ message: "done" }, { message: "done" }]).listen();
    s = await startStack(
      "postgres",
      {
        ...dockerModelEnv(model),
        SANDBOX_HOST_ALIASES: `mode.tandem.test=127.0.0.1:${modePort}`,
      },
      { snapshotGcEveryMs: 0, snapshotGcGraceMs: 0 },
    );
    await registerRepository(s, git, "acme/app");
  }, 60_000);
  afterAll(async () => {
    const images = await snapshotImageRefs(s);
    await s?.close();
    await model?.close();
    await git?.close();
    modeServer?.close();
    removeImages([...images, ...extraImages]);
  });

  const profile = (name: string) => profileView(s, name);
  const snapshotsOf = async (name: string, version: number) =>
    (await s.owner.request("GET", `/api/profiles/${name}/versions/${version}/snapshots`)).body
      .snapshots as Array<Record<string, any>>;
  const finished = (name: string, id: string) =>
    until(
      `snapshot ${id}`,
      async () => {
        const found = (await snapshotsOf(name, 1)).find((x) => x.id === id);
        return found && (found.status === "ready" || found.status === "failed") ? found : null;
      },
      90_000,
    );
  const runningSandbox = (sessionId: string) =>
    until(
      "the session's sandbox",
      async () => {
        const row = await sandboxOf(s, sessionId);
        return row?.externalId && row.status === "running" ? row : null;
      },
      90_000,
    );
  const startOn = async (name: string) => {
    const created = await s.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "look",
      profile: name,
    });
    expect(created.status).toBe(201);
    return created.body.id as string;
  };
  const runGc = async () => {
    const job = await s.rt.queues.maintenance.add("gc-snapshot-images", {});
    await until(
      "the GC job",
      async () =>
        (await job.getState()) === "completed" || !(await s.rt.queues.maintenance.getJob(job.id!)),
      30_000,
    );
  };

  let first: { id: string; imageRef: string };
  let firstSession: string;

  it("a refresh rebuilds the newest version's snapshot; asking again while it runs gives the same one", async () => {
    await s.owner.request("POST", "/api/profiles", { name: "rf" });
    await s.owner.request("PUT", "/api/profiles/rf/draft", {
      spec: {
        setupScript: `sleep 2 && curl -fsS ${modeUrl} && echo built`,
        env: {},
        network: { egress: "allowlist", allow: ["mode.tandem.test"] },
      },
    });
    const published = await s.owner.request("POST", "/api/profiles/rf/publish");
    first = (await finished("rf", published.body.snapshot.id)) as typeof first;
    expect(first).toMatchObject({ status: "ready", trigger: "publish" });
    // A session on it keeps its sandbox (and image) while it lives.
    firstSession = await startOn("rf");
    expect(
      (await s.sandboxes.inspect((await runningSandbox(firstSession)).externalId!)).image,
    ).toBe(first.imageRef);

    const refresh = await s.owner.request("POST", "/api/profiles/rf/refresh");
    expect(refresh.status).toBe(202);
    expect(refresh.body).toMatchObject({
      version: 1,
      snapshot: { status: "queued", trigger: "refresh" },
    });
    await until(
      "the refresh to run",
      async () => (await snapshotsOf("rf", 1))[0]!.status === "running",
      30_000,
    );
    const again = await s.owner.request("POST", "/api/profiles/rf/refresh");
    expect(again.status).toBe(202);
    expect(again.body.snapshot).toMatchObject({ id: refresh.body.snapshot.id, status: "running" });
    // Still running: the earlier snapshot is in use.
    expect(await profile("rf")).toMatchObject({ inUse: 1 });

    const second = await finished("rf", refresh.body.snapshot.id);
    expect(second).toMatchObject({
      status: "ready",
      trigger: "refresh",
      imageRef: "tandem/snapshot:" + refresh.body.versionId.slice(0, 8) + "-2",
    });
    const listed = await snapshotsOf("rf", 1);
    expect(listed.map((x) => [x.id, x.trigger, x.status])).toEqual([
      [second.id, "refresh", "ready"],
      [first.id, "publish", "ready"],
    ]);
    expect(listed[0]!.log).toContain("built");
    expect(
      spawnSync(
        "docker",
        ["image", "inspect", "-f", '{{index .Config.Labels "tandem.org"}}', second.imageRef],
        { encoding: "utf8" },
      ).stdout.trim(),
    ).toBe(s.rt.defaultOrgId);
  }, 240_000);

  it("a failing refresh keeps the last ready image in use", async () => {
    mode = "fail";
    const refresh = await s.owner.request("POST", "/api/profiles/rf/refresh");
    const failed = await finished("rf", refresh.body.snapshot.id);
    expect(failed).toMatchObject({ status: "failed", trigger: "refresh", imageRef: null });
    expect(failed.log).toContain("setup script exited with");
    mode = "ok";
    const [ready] = (await snapshotsOf("rf", 1)).filter((x) => x.status === "ready");
    expect(
      (await s.owner.request("GET", "/api/profiles")).body.profiles.find(
        (p: any) => p.name === "rf",
      ),
    ).toMatchObject({ startable: true, version: 1, latest: { version: 1, snapshot: "failed" } });
    const sessionId = await startOn("rf");
    expect((await s.sandboxes.inspect((await runningSandbox(sessionId)).externalId!)).image).toBe(
      ready!.imageRef,
    );
    await s.owner.request("POST", `/api/sessions/${sessionId}/stop`);
  }, 180_000);

  it("GC removes this org's unused snapshot images, keeps the in-use ones and never touches other orgs' images", async () => {
    const tag = randomUUID().slice(0, 8);
    const orphan = `tandem/snapshot:gc-orphan-${tag}`;
    const foreign = `tandem/snapshot:gc-foreign-${tag}`;
    extraImages.push(orphan, foreign);
    labelledImage(orphan, s.rt.defaultOrgId); // ours, but no snapshot points at it
    labelledImage(foreign, randomUUID()); // another install's org, unknown to this database
    const newest = (await snapshotsOf("rf", 1)).find((x) => x.status === "ready")!;
    expect(newest.id).not.toBe(first.id);

    // The first image is no longer the newest, but the first session's sandbox still uses it.
    await runGc();
    expect(imageExists(orphan)).toBe(false);
    expect(imageExists(foreign)).toBe(true);
    expect(imageExists(first.imageRef)).toBe(true);
    expect(imageExists(newest.imageRef)).toBe(true);

    // Once that sandbox is gone, the replaced image goes too, and its snapshot says so.
    await s.owner.request("POST", `/api/sessions/${firstSession}/stop`);
    await until(
      "the first sandbox to be removed",
      async () => {
        const row = await sandboxOf(s, firstSession);
        return row?.removedAt;
      },
      60_000,
    );
    await runGc();
    expect(imageExists(first.imageRef)).toBe(false);
    expect(imageExists(newest.imageRef)).toBe(true);
    expect(imageExists(foreign)).toBe(true);
    const gone = (await snapshotsOf("rf", 1)).find((x) => x.id === first.id)!;
    expect(gone).toMatchObject({ status: "ready", imageRef: null });
    expect(gone.log).toContain(`image ${first.imageRef} removed`);
    // New sessions still start from the newest ready image.
    expect(await profile("rf")).toMatchObject({ inUse: 1 });
  }, 180_000);

  it("a refresh cron produces snapshots with trigger schedule; clearing it removes the scheduler", async () => {
    await s.owner.request("POST", "/api/profiles", { name: "sched" });
    await s.owner.request("PUT", "/api/profiles/sched/draft", {
      spec: { setupScript: "echo scheduled-build", env: {} },
    });
    const published = await s.owner.request("POST", "/api/profiles/sched/publish");
    await finished("sched", published.body.snapshot.id);
    const [row] = await s.rt.database.db
      .select()
      .from(schema.sandboxProfiles)
      .where(eq(schema.sandboxProfiles.name, "sched"));
    const schedulerId = `profile-refresh-${row!.id}`;

    const bad = await s.owner.request("PATCH", "/api/profiles/sched", {
      refreshCron: "every minute",
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('refreshCron "every minute"');
    expect((await s.owner.request("PATCH", "/api/profiles/sched", {})).status).toBe(400);

    const set = await s.owner.request("PATCH", "/api/profiles/sched", {
      refreshCron: "* * * * * *",
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ name: "sched", active: true, refreshCron: "* * * * * *" });
    expect(await s.rt.queues.snapshots.getJobScheduler(schedulerId)).toMatchObject({
      pattern: "* * * * * *",
      tz: "UTC",
    });
    const scheduled = await until(
      "a scheduled snapshot",
      async () =>
        (await snapshotsOf("sched", 1)).find(
          (x) => x.trigger === "schedule" && x.status === "ready",
        ),
      90_000,
    );
    expect(scheduled.log).toContain("scheduled-build");

    // Inactive: the schedule goes, and comes back when active again.
    expect(
      (await s.owner.request("PATCH", "/api/profiles/sched", { active: false })).body,
    ).toMatchObject({ active: false, refreshCron: "* * * * * *" });
    expect(await s.rt.queues.snapshots.getJobScheduler(schedulerId)).toBeFalsy();
    await s.owner.request("PATCH", "/api/profiles/sched", { active: true });
    expect(await s.rt.queues.snapshots.getJobScheduler(schedulerId)).toBeTruthy();

    const cleared = await s.owner.request("PATCH", "/api/profiles/sched", { refreshCron: null });
    expect(cleared.body).toMatchObject({ refreshCron: null });
    expect(await s.rt.queues.snapshots.getJobScheduler(schedulerId)).toBeFalsy();
    // Whatever was already asked for finishes; nothing new is asked for after that.
    await until(
      "the builds to settle",
      async () =>
        (await snapshotsOf("sched", 1)).every((x) => x.status === "ready" || x.status === "failed"),
      60_000,
    );
    const settled = (await snapshotsOf("sched", 1)).length;
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await snapshotsOf("sched", 1)).toHaveLength(settled);

    // A scheduler the database no longer wants (changed while Redis was away) removes itself when it fires.
    await s.owner.request("PATCH", "/api/profiles/sched", { refreshCron: "* * * * * *" });
    await s.rt.database.db
      .update(schema.sandboxProfiles)
      .set({ refreshCron: null })
      .where(eq(schema.sandboxProfiles.id, row!.id));
    await until(
      "the stale scheduler to go",
      async () => !(await s.rt.queues.snapshots.getJobScheduler(schedulerId)),
      10_000,
    );
  }, 240_000);

  it("a scheduler Redis lost comes back with the worker's sweep, and one no profile wants goes", async () => {
    await s.owner.request("POST", "/api/profiles", { name: "yearly" });
    await s.owner.request("POST", "/api/profiles/yearly/publish");
    expect(
      (await s.owner.request("PATCH", "/api/profiles/yearly", { refreshCron: "0 0 1 1 *" })).status,
    ).toBe(200);
    const [row] = await s.rt.database.db
      .select()
      .from(schema.sandboxProfiles)
      .where(eq(schema.sandboxProfiles.name, "yearly"));
    const schedulerId = `profile-refresh-${row!.id}`;
    const stranger = `profile-refresh-${randomUUID()}`;
    await s.rt.queues.snapshots.removeJobScheduler(schedulerId);
    await s.rt.queues.snapshots.upsertJobScheduler(
      stranger,
      { pattern: "0 0 1 1 *", tz: "UTC" },
      { name: "refresh-profile", data: { profileId: "gone" } },
    );
    await until(
      "the lost scheduler back",
      async () =>
        (await s.rt.queues.snapshots.getJobScheduler(schedulerId))?.pattern === "0 0 1 1 *",
      10_000,
    );
    await until(
      "the stranger gone",
      async () => !(await s.rt.queues.snapshots.getJobScheduler(stranger)),
      10_000,
    );
  }, 60_000);
});
