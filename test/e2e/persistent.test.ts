import { spawnSync } from "node:child_process";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { execCollect, schema } from "@tandem/core";
import { ModelServer, type ModelStep } from "../fixtures/model-server.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  sessionEvents,
  sessionRow,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();

const docker = (...args: string[]) => spawnSync("docker", args, { encoding: "utf8" });
const volumesOf = (sessionId: string) =>
  docker("volume", "ls", "-q", "--filter", `label=tandem.session=${sessionId}`)
    .stdout.split("\n")
    .filter(Boolean)
    .sort();

describe.skipIf(skip)("persistent sandboxes in docker", () => {
  let git: TestGit;
  let model: ModelServer | undefined;
  let stack: Stack | undefined;
  const sessionIds: string[] = [];

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "test-git-password" },
      { "acme/app": { "README.md": "# app\n" } },
    );
  });
  afterEach(async () => {
    await stack?.close();
    await model?.close();
    stack = undefined;
  });
  afterAll(async () => {
    await git?.close();
    // Whatever a failed test left behind.
    for (const id of sessionIds) {
      const containers = docker("ps", "-aq", "--filter", `label=tandem.session=${id}`)
        .stdout.split("\n")
        .filter(Boolean);
      if (containers.length) docker("rm", "-f", ...containers);
      const volumes = volumesOf(id);
      if (volumes.length) docker("volume", "rm", "-f", ...volumes);
    }
  });

  /**
   * A stack whose own idle time is long (10 h) and whose sandboxes have no network, and a profile
   * "keep" that opts in to persistence, idles after 1 minute and runs on the host network (`hostNetwork`, allowed here; so
   * its agent reaches the model only if the version's network is the one applied). Nothing to
   * build, so its snapshot is ready at once.
   */
  async function start(
    script: ModelStep[],
    allowPersistent: boolean,
    persistent: { paths?: string[] } = {},
  ) {
    model = await new ModelServer(script).listen();
    const s = (stack = await startStack("postgres", {
      ...dockerModelEnv(model),
      SANDBOX_IDLE_MINUTES: "600",
      SANDBOX_NETWORK: "none",
      SANDBOX_ALLOW_HOST_NETWORK: "true",
    }));
    await registerRepository(s, git, "acme/app");
    const settings = await s.owner.request("PATCH", `/api/orgs/${s.rt.defaultOrgId}/settings`, {
      allowPersistentSandboxes: allowPersistent,
    });
    expect(settings.body.allowPersistentSandboxes).toBe(allowPersistent);
    expect((await s.owner.request("POST", "/api/profiles", { name: "keep" })).status).toBe(201);
    expect(
      (
        await s.owner.request("PUT", "/api/profiles/keep/draft", {
          spec: {
            persistent: { enabled: true, ...persistent },
            idleMinutes: 1,
            hostNetwork: true,
            limits: { pids: 300, diskBytes: 2 * 1024 ** 3 },
          },
        })
      ).status,
    ).toBe(200);
    expect((await s.owner.request("POST", "/api/profiles/keep/publish")).body.snapshot.status).toBe(
      "ready",
    );
    return s;
  }
  const newSession = async (s: Stack, prompt: string) => {
    const res = await s.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt,
      profile: "keep",
    });
    expect(res.status).toBe(201);
    sessionIds.push(res.body.id);
    return res.body.id as string;
  };
  const sandboxRow = async (s: Stack, id: string) => (await sandboxOf(s, id))!;
  const idleTurns = (s: Stack, id: string, n: number) =>
    until(
      `${n} finished turn(s)`,
      async () => {
        const turns = await s.rt.database.db
          .select()
          .from(schema.sessionTurns)
          .where(eq(schema.sessionTurns.sessionId, id));
        const row = await sessionRow(s, id);
        if (row.status === "failed") throw new Error(`session failed: ${row.error}`);
        return (
          turns.length === n && turns.every((t) => t.status !== "running") && row.status === "idle"
        );
      },
      120_000,
    );
  const commands = async (s: Stack, id: string) =>
    (await sessionEvents(s, id))
      .sort((a, b) => a.seq - b.seq)
      .filter((e) => e.type === "command")
      .map((e) => e.data as { command: string; output: string; exitCode: number });

  it("keeps the files and the agent's thread when the stopped sandbox is removed, and deleting the session removes its volumes", async () => {
    const s = await start(
      [
        { shell: "echo kept-by-agent > notes.txt && cat notes.txt" },
        { message: "wrote notes.txt" },
        { shell: "cat notes.txt && git ls-remote origin main | cut -f2" },
        { message: "read it back" },
      ],
      true,
    );
    const id = await newSession(s, "Write notes.txt");
    await idleTurns(s, id, 1);
    const first = await sandboxRow(s, id);
    expect(first).toMatchObject({
      persistent: true,
      status: "running",
      volumes: [
        { name: `tandem-${id}-1`, path: "/workspace" },
        { name: `tandem-${id}-2`, path: "/home/agent" },
      ],
    });
    expect(volumesOf(id)).toEqual([`tandem-${id}-1`, `tandem-${id}-2`]);
    const labels = JSON.parse(docker("volume", "inspect", `tandem-${id}-2`).stdout)[0].Labels;
    expect(labels).toMatchObject({
      "tandem.org": s.rt.defaultOrgId,
      "tandem.session": id,
      "tandem.path": "/home/agent",
    });
    const thread = (await sessionRow(s, id)).agentThreadId;
    expect(thread).toBeTruthy();
    const oldToken = (
      await execCollect(s.sandboxes, first.externalId!, ["cat", "/home/agent/.tandem/token"])
    ).stdout;

    // The version's idleMinutes (1) stops it, not SANDBOX_IDLE_MINUTES (600): two minutes on, it is idle too long.
    await new Promise((r) => setTimeout(r, 1_500)); // a few sweeps at the real time stop nothing
    expect((await sandboxRow(s, id)).status).toBe("running");
    s.rt.clock = { now: () => new Date(Date.now() + 2 * 60_000) };
    await until(
      "the idle sandbox to stop",
      async () => (await sandboxRow(s, id)).status === "stopped",
      15_000,
    );
    expect((await s.sandboxes.inspect(first.externalId!)).state).toBe("stopped");

    // Removed outside Tandem: the workbench says it comes back, and the next message creates it again on the same volumes.
    expect(docker("rm", "-f", first.externalId!).status).toBe(0);
    expect((await s.owner.request("GET", `/api/sessions/${id}/sandbox`)).body).toEqual({
      available: false,
      reason:
        "the session's sandbox is gone, but its files are kept; send a message to bring it back",
    });
    expect(
      (
        await s.owner.request("POST", `/api/sessions/${id}/messages`, {
          text: "Read notes.txt back",
        })
      ).status,
    ).toBe(202);
    await idleTurns(s, id, 2);
    const second = await sandboxRow(s, id);
    expect(second).toMatchObject({
      id: first.id,
      persistent: true,
      status: "running",
      volumes: first.volumes,
    });
    expect(second.externalId).not.toBe(first.externalId);
    const read = (await commands(s, id))[1]!;
    // The file survived, and the git credentials work with the recreated sandbox's new token.
    expect(read).toMatchObject({ output: "kept-by-agent\nrefs/heads/main\n", exitCode: 0 });
    const newToken = (
      await execCollect(s.sandboxes, second.externalId!, ["cat", "/home/agent/.tandem/token"])
    ).stdout;
    expect(newToken).not.toBe(oldToken);
    // The same agent thread continued: Codex resumed it from its files in the persistent home.
    expect((await sessionRow(s, id)).agentThreadId).toBe(thread);
    const lastRequest = JSON.stringify(model!.responseRequests.at(-1)!.body);
    expect(lastRequest).toContain("Write notes.txt");
    expect(lastRequest).toContain("Read notes.txt back");

    // Ended: the container goes, the volumes stay until the session is deleted.
    expect((await s.owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(409);
    await s.owner.request("POST", `/api/sessions/${id}/stop`);
    await until(
      "the sandbox to be removed",
      async () => (await s.sandboxes.inspect(second.externalId!)).state === "missing",
      15_000,
    );
    expect(volumesOf(id)).toHaveLength(2);
    expect((await s.owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(204);
    expect(volumesOf(id)).toEqual([]);
    expect((await s.owner.request("GET", `/api/sessions/${id}`)).status).toBe(404);
    const [kept] = await s.rt.database.db
      .select()
      .from(schema.sandboxes)
      .where(eq(schema.sandboxes.id, first.id));
    expect(kept).toMatchObject({ sessionId: null, status: "removed", volumes: [] });
  }, 300_000);

  it("loses only the turn when a persistent sandbox is removed while the agent works", async () => {
    const s = await start(
      [
        { shell: "echo early > early.txt && sleep 120" },
        { shell: "cat early.txt" },
        { message: "continued" },
      ],
      true,
    );
    const id = await newSession(s, "Start something long");
    await until(
      "the agent to run its command",
      async () => {
        const turn = (
          await s.rt.database.db
            .select()
            .from(schema.sessionTurns)
            .where(eq(schema.sessionTurns.sessionId, id))
        )[0];
        return turn?.status === "running" && model!.responseRequests.length === 1;
      },
      60_000,
    );
    const first = await sandboxRow(s, id);
    await until(
      "early.txt",
      async () =>
        (
          await execCollect(s.sandboxes, first.externalId!, [
            "test",
            "-f",
            "/workspace/acme/app/early.txt",
          ])
        ).exitCode === 0,
    );
    expect(docker("rm", "-f", first.externalId!).status).toBe(0);
    await idleTurns(s, id, 1);
    const events = await sessionEvents(s, id);
    expect(
      events.some(
        (e) =>
          e.type === "error" &&
          (e.data as { message: string }).message.includes("its files are kept"),
      ),
    ).toBe(true);
    expect(
      (
        await s.rt.database.db
          .select()
          .from(schema.sessionTurns)
          .where(eq(schema.sessionTurns.sessionId, id))
      )[0]!.status,
    ).toBe("failed");

    await s.owner.request("POST", `/api/sessions/${id}/messages`, { text: "Go on" });
    await idleTurns(s, id, 2);
    expect((await commands(s, id)).at(-1)).toMatchObject({ output: "early\n", exitCode: 0 });
    expect((await sandboxRow(s, id)).externalId).not.toBe(first.externalId);
    await s.owner.request("POST", `/api/sessions/${id}/stop`);
    await until(
      "the sandbox to be removed",
      async () => (await sandboxRow(s, id)).status === "removed",
      15_000,
    );
    expect((await s.owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(204);
    expect(volumesOf(id)).toEqual([]);
  }, 180_000);

  it("keeps only the version's paths; without the agent's home the next turn starts a new thread", async () => {
    const s = await start(
      [
        { shell: "echo in-workspace > kept.txt" },
        { message: "ok" },
        { shell: "cat kept.txt" },
        { message: "fresh" },
      ],
      true,
      { paths: ["/workspace"] },
    );
    const id = await newSession(s, "Keep a file");
    await idleTurns(s, id, 1);
    const first = await sandboxRow(s, id);
    expect(first.volumes).toEqual([{ name: `tandem-${id}-1`, path: "/workspace" }]);
    const thread = (await sessionRow(s, id)).agentThreadId;
    expect(thread).toBeTruthy();
    expect(docker("rm", "-f", first.externalId!).status).toBe(0);
    await s.owner.request("POST", `/api/sessions/${id}/messages`, { text: "Show it" });
    await idleTurns(s, id, 2);
    expect((await commands(s, id)).at(-1)).toMatchObject({ output: "in-workspace\n", exitCode: 0 });
    const after = (await sessionRow(s, id)).agentThreadId;
    expect(after).toBeTruthy();
    expect(after).not.toBe(thread);
    expect(JSON.stringify(model!.responseRequests.at(-1)!.body)).not.toContain("Keep a file");
    await s.owner.request("POST", `/api/sessions/${id}/stop`);
    await until(
      "the sandbox to be removed",
      async () => (await sandboxRow(s, id)).status === "removed",
      15_000,
    );
    expect((await s.owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(204);
    expect(volumesOf(id)).toEqual([]);
  }, 180_000);

  it("runs the same profile ephemeral when the org does not allow persistent sandboxes", async () => {
    const s = await start([{ message: "hello" }], false);
    const id = await newSession(s, "Say hello");
    await idleTurns(s, id, 1);
    const sandbox = await sandboxRow(s, id);
    expect(sandbox).toMatchObject({ persistent: false, volumes: [] });
    // The version's network and limits over the defaults; the disk limit where this engine can cap it.
    const host = JSON.parse(docker("inspect", sandbox.externalId!).stdout)[0].HostConfig;
    expect(host).toMatchObject({
      NetworkMode: "host",
      PidsLimit: 300,
      Memory: 4 * 1024 ** 3,
      NanoCpus: 2e9,
    });
    const capped = docker("create", "--storage-opt", "size=2G", SANDBOX_IMAGE, "true");
    if (capped.status === 0) docker("rm", "-f", capped.stdout.trim());
    expect(host.StorageOpt?.size).toBe(capped.status === 0 ? String(2 * 1024 ** 3) : undefined);
    expect(volumesOf(id)).toEqual([]);
    expect(docker("rm", "-f", sandbox.externalId!).status).toBe(0);
    await s.owner.request("POST", `/api/sessions/${id}/messages`, { text: "still there?" });
    const failed = await until(
      "the session to fail",
      async () => {
        const row = await sessionRow(s, id);
        return row.status === "failed" ? row : null;
      },
      30_000,
    );
    expect(failed.error).toBe("the session's sandbox no longer exists (removed outside Tandem?)");
    expect((await s.owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(204);
    expect(volumesOf(id)).toEqual([]);
  }, 180_000);
});

describe("a persistent profile on the local provider", () => {
  it("runs ephemeral, since local sandboxes have no volumes", async () => {
    const git = await startGitServer(
      { username: "u", password: "test-git-password" },
      { "acme/app": { "README.md": "# app\n" } },
    );
    const model = await new ModelServer([{ message: "hello" }]).listen();
    const s = await startStack("postgres", {
      SANDBOX_PROVIDER: "local",
      MODEL_UPSTREAM_URL: model.url,
      MODEL_UPSTREAM_API_KEY: "test-upstream-key",
      AGENT_MODEL: "test-model",
    });
    try {
      await registerRepository(s, git, "acme/app");
      await s.owner.request("PATCH", `/api/orgs/${s.rt.defaultOrgId}/settings`, {
        allowPersistentSandboxes: true,
      });
      await s.owner.request("POST", "/api/profiles", { name: "keep" });
      await s.owner.request("PUT", "/api/profiles/keep/draft", {
        spec: { persistent: { enabled: true } },
      });
      await s.owner.request("POST", "/api/profiles/keep/publish");
      const id = (
        await s.owner.request("POST", "/api/sessions", {
          repository: "acme/app",
          prompt: "hi",
          profile: "keep",
        })
      ).body.id;
      await until(
        "the turn",
        async () => {
          const session = (
            await s.rt.database.db.select().from(schema.sessions).where(eq(schema.sessions.id, id))
          )[0]!;
          if (session.status === "failed") throw new Error(`session failed: ${session.error}`);
          return session.status === "idle";
        },
        90_000,
      );
      const row = await sandboxOf(s, id);
      expect(row).toMatchObject({ provider: "local", persistent: false, volumes: [] });
      await s.owner.request("POST", `/api/sessions/${id}/stop`);
    } finally {
      await s.close();
      await model.close();
      await git.close();
    }
  }, 120_000);
});
