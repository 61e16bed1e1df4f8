import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { schema, type Config } from "@tandem/core";
import { ModelServer, type ModelStep } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  sessionEvents,
  sessionRow,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { ROOT } from "../helpers/spawn.ts";
import { openSse } from "../helpers/sse.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();

/** The config as environment variables, to start another process on the same database and Redis. */
const configEnv = (config: Config) =>
  Object.fromEntries(
    // Parsed settings (SANDBOX_HOST_ALIASES becomes a map) have no one-line form; the tests set none.
    Object.entries(config)
      .filter(([, v]) => v !== undefined && typeof v !== "object")
      .map(([k, v]) => [k, String(v)]),
  );

describe.skipIf(skip)("session lifecycle in docker sandboxes", () => {
  let git: TestGit;
  let model: ModelServer | undefined;
  let script: ModelStep[];
  let stack: Stack | undefined;

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
  });

  /** Each test has its own stack and its own scripted model (`script`, set before calling). */
  async function start(env: Record<string, string> = {}, opts: { none?: boolean } = {}) {
    model = await new ModelServer(script).listen();
    stack = await startStack(
      "postgres",
      {
        ...dockerModelEnv(model),
        ...env,
      },
      opts,
    );
    await registerRepository(stack, git, "acme/app");
    return stack;
  }
  const newSession = async (s: Stack, prompt = "work") =>
    (await s.owner.request("POST", "/api/sessions", { repository: "acme/app", prompt })).body
      .id as string;

  it("reattaches after the worker is killed with SIGKILL mid-turn: no event lost or repeated, model calls keep working", async () => {
    // The second command waits for the test's go-ahead, given once the new worker has taken the
    // turn over, so the model call after it is made with whatever credentials the takeover left.
    script = [
      { shell: "echo step-one" },
      { shell: "while [ ! -f /tmp/go ]; do sleep 0.2; done; echo step-two" },
      { message: "all done" },
    ];
    const s = await start(
      { SESSION_LOCK_MS: "2000", INBOX_SWEEP_INTERVAL_MS: "500" },
      { none: true },
    );
    /** Each worker's log lines (read, so a full pipe never blocks it). */
    const logs = new Map<ChildProcess, string>();
    const spawnWorker = (): ChildProcess => {
      // tsx loaded into this very node process (not tsx's CLI, which runs the worker in a child
      // that would outlive a SIGKILL of the CLI and keep the turn).
      const child = spawn(process.execPath, ["--import", "tsx", "worker/src/main.ts"], {
        cwd: ROOT,
        env: { ...configEnv(s.rt.config), LOG_LEVEL: "info", PATH: process.env.PATH! },
        stdio: ["ignore", "pipe", "ignore"],
      });
      logs.set(child, "");
      child.stdout!.on("data", (d) => logs.set(child, logs.get(child) + String(d)));
      return child;
    };
    const first = spawnWorker();
    let second: ChildProcess | undefined;
    try {
      const id = await newSession(s);
      const events = await openSse(`${s.base}/api/sessions/${id}/events`, {
        authorization: `Bearer ${s.owner.token}`,
      });
      await until(
        "the first command",
        async () => events.frames.some((f) => f.data.type === "command"),
        60_000,
      );
      first.kill("SIGKILL");
      await new Promise((r) => first.once("exit", r));
      second = spawnWorker();
      await until(
        "the new worker to take the turn over",
        async () => logs.get(second!)!.includes("turn.reattached"),
        60_000,
      );
      const modelCallsBefore = model!.responseRequests.length;
      spawnSync("docker", ["exec", (await sandboxOf(s, id))!.externalId!, "touch", "/tmp/go"]);
      await until(
        "the turn to finish under the new worker",
        async () => events.frames.some((f) => f.data.status === "idle"),
        60_000,
      );
      // The agent's model call after the takeover went through (the scripted model answered it).
      expect(model!.responseRequests.length).toBeGreaterThan(modelCallsBefore);
      await new Promise((r) => setTimeout(r, 300));
      await events.close();
      const seqs = events.frames.map((f) => f.data.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      const commands = events.frames
        .filter((f) => f.data.type === "command")
        .map((f) => f.data.output.trim());
      expect(commands).toEqual(["step-one", "step-two"]);
      expect(
        events.frames
          .filter((f) => f.data.type === "message" && f.data.role === "assistant")
          .map((f) => f.data.text),
      ).toEqual(["all done"]);
      const turns = await s.rt.database.db
        .select()
        .from(schema.sessionTurns)
        .where(eq(schema.sessionTurns.sessionId, id));
      expect(turns).toEqual([
        expect.objectContaining({ number: 1, status: "completed", exitCode: 0 }),
      ]);
    } finally {
      first.kill("SIGKILL");
      second?.kill("SIGTERM");
      if (second) await new Promise((r) => second!.once("exit", r));
    }
  }, 150_000);

  it("stops a running turn within 5 s and removes its sandbox", async () => {
    script = [{ shell: "sleep 120" }, { message: "never" }];
    const s = await start();
    const id = await newSession(s);
    await until(
      "the agent to run",
      async () => {
        const turn = (
          await s.rt.database.db
            .select()
            .from(schema.sessionTurns)
            .where(eq(schema.sessionTurns.sessionId, id))
        )[0];
        return turn?.status === "running" && model!.responseRequests.length > 0;
      },
      60_000,
    );
    const sandbox = (await sandboxOf(s, id))!;
    const started = Date.now();
    expect((await s.owner.request("POST", `/api/sessions/${id}/stop`)).body.status).toBe("stopped");
    await until(
      "the sandbox to be gone",
      async () => (await s.sandboxes.inspect(sandbox.externalId!)).state === "missing",
      5_000,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    // Recorded by the worker that followed the turn; once (in one CI run) only after the sandbox was gone.
    const turnStatus = async () =>
      (
        await s.rt.database.db
          .select()
          .from(schema.sessionTurns)
          .where(eq(schema.sessionTurns.sessionId, id))
      )[0]!.status;
    await until(
      "the turn to be recorded as interrupted",
      async () => (await turnStatus()) !== "running",
      5_000,
    );
    expect(await turnStatus()).toBe("interrupted");
  }, 120_000);

  it("fails a session whose sandbox vanished, with a readable reason", async () => {
    script = [{ shell: "sleep 120" }, { message: "never" }];
    const s = await start();
    const id = await newSession(s);
    await until("the sandbox", async () => (await sandboxOf(s, id))?.status === "running", 60_000);
    spawnSync("docker", ["rm", "-f", (await sandboxOf(s, id))!.externalId!]);
    const failed = await until(
      "the session to fail",
      async () => {
        const row = await sessionRow(s, id);
        return row.status === "failed" ? row : null;
      },
      15_000,
    );
    expect(failed.error).toMatch(/sandbox (stopped or disappeared|no longer exists)/);
    const shown = await s.owner.request("GET", `/api/sessions/${id}`);
    expect(shown.body).toMatchObject({ status: "failed", error: failed.error });
  }, 120_000);

  it("stops an idle sandbox and restarts it transparently on the next message", async () => {
    script = [{ message: "first" }, { shell: "cat README.md" }, { message: "second" }];
    const s = await start({ SANDBOX_IDLE_MINUTES: "0.01" });
    const id = await newSession(s);
    await until("idle", async () => (await sessionRow(s, id)).status === "idle", 60_000);
    await until(
      "the idle sandbox to stop",
      async () => (await sandboxOf(s, id))?.status === "stopped",
      15_000,
    );
    expect((await s.sandboxes.inspect((await sandboxOf(s, id))!.externalId!)).state).toBe(
      "stopped",
    );
    await s.owner.request("POST", `/api/sessions/${id}/messages`, { text: "again" });
    await until(
      "the second answer",
      async () => {
        const msgs = await sessionEvents(s, id);
        return msgs.some(
          (m) => m.type === "message" && (m.data as { text?: string }).text === "second",
        );
      },
      60_000,
    );
    const events = await sessionEvents(s, id);
    expect(events.find((e) => e.type === "command")!.data).toMatchObject({
      output: "# app\n",
      exitCode: 0,
    });
  }, 120_000);

  it("keeps sessions over the org's concurrency limit queued, with their position", async () => {
    script = Array.from({ length: 4 }, () => ({ shell: "sleep 120" })); // every session that starts keeps its slot
    const s = await start();
    await s.rt.database.db
      .update(schema.orgSettings)
      .set({ concurrencyLimit: 1 })
      .where(eq(schema.orgSettings.orgId, s.rt.defaultOrgId));
    const a = await newSession(s, "a");
    await until(
      "a to run",
      async () => (await sessionRow(s, a)).status === "running",
      60_000,
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(await sessionRow(s, a))}`);
    });
    const b = await newSession(s, "b");
    const c = await newSession(s, "c");
    await new Promise((r) => setTimeout(r, 1_500)); // workers and sweeps had their chance
    expect((await s.owner.request("GET", `/api/sessions/${b}`)).body).toMatchObject({
      status: "queued",
      queuePosition: 1,
    });
    expect((await s.owner.request("GET", `/api/sessions/${c}`)).body).toMatchObject({
      status: "queued",
      queuePosition: 2,
    });
    expect((await s.owner.request("GET", `/api/sessions/${a}`)).body.queuePosition).toBeNull();
    await s.owner.request("POST", `/api/sessions/${a}/stop`);
    await until(
      "b to start when a's slot frees",
      async () => (await sessionRow(s, b)).status !== "queued",
      15_000,
    );
    expect((await s.owner.request("GET", `/api/sessions/${c}`)).body).toMatchObject({
      status: "queued",
      queuePosition: 1,
    });
    for (const id of [b, c]) await s.owner.request("POST", `/api/sessions/${id}/stop`);
  }, 120_000);

  it("delivers follow-ups sent during a turn afterwards, in order, one turn each", async () => {
    script = [
      { shell: "sleep 2" },
      { message: "first" },
      { message: "second" },
      { message: "third" },
    ];
    const s = await start();
    const id = await newSession(s, "one");
    await until(
      "the first turn",
      async () => (await sessionRow(s, id)).status === "running",
      60_000,
    );
    for (const text of ["two", "three"]) {
      expect((await s.owner.request("POST", `/api/sessions/${id}/messages`, { text })).status).toBe(
        202,
      );
    }
    await until(
      "three turns",
      async () => {
        const turns = await s.rt.database.db
          .select()
          .from(schema.sessionTurns)
          .where(eq(schema.sessionTurns.sessionId, id));
        return turns.length === 3 && turns.every((t) => t.status === "completed");
      },
      60_000,
    );
    const prompts = model!.responseRequests.map((r) => JSON.stringify(r.body));
    // Each turn's first request carries its own message as the newest user input.
    expect(prompts.findIndex((p) => p.includes('"two"'))).toBeLessThan(
      prompts.findIndex((p) => p.includes('"three"')),
    );
    const events = await sessionEvents(s, id);
    const said = events
      .sort((a, b) => a.seq - b.seq)
      .filter((e) => e.type === "message" && (e.data as { role: string }).role === "assistant");
    expect(said.map((e) => (e.data as { text: string }).text)).toEqual([
      "first",
      "second",
      "third",
    ]);
  }, 120_000);

  it("checks out the requested ref onto the session's branch", async () => {
    // A release branch with its own file, made in the bare repository the git server serves.
    const bare = `${git.root}/acme/app.git`;
    const gitIn = (...args: string[]) =>
      spawnSync("git", args, {
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@t",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@t",
        },
      });
    const work = `${git.root}/release-work`;
    gitIn("clone", "-q", bare, work);
    gitIn("-C", work, "checkout", "-q", "-b", "release");
    spawnSync("sh", ["-c", `echo v2 > ${work}/RELEASE`]);
    gitIn("-C", work, "add", ".");
    gitIn("-C", work, "commit", "-qm", "release");
    gitIn("-C", work, "push", "-q", "origin", "release");
    script = [{ shell: "cat RELEASE" }, { message: "read it" }];
    const s = await start();
    const res = await s.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "read",
      ref: "release",
    });
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    await until("the turn", async () => (await sessionRow(s, id)).status === "idle", 60_000);
    const events = await sessionEvents(s, id);
    expect(events.find((e) => e.type === "command")!.data).toMatchObject({
      output: "v2\n",
      exitCode: 0,
    });
    expect((await s.owner.request("GET", `/api/sessions/${id}`)).body).toMatchObject({
      ref: "release",
      branch: `tandem/${id.slice(0, 8)}`,
    });
    const bad = await s.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "x",
      ref: "--upload-pack=evil",
    });
    expect(bad.status).toBe(400);
  }, 120_000);
});
