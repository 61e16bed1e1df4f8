/**
 * Median time from "session accepted" (POST /api/sessions answered 201) to "agent process
 * started" (the session's `running` status, announced once the agent was launched in its
 * sandbox) with the docker provider, in two ways, next to a bare `docker run` of the same
 * image measured in the same run:
 *
 * - cold: the default profile (base image, the repository cloned at start) plus the profile's
 *   setup script (an offline `npm install` of a local tarball) run in that sandbox, which is
 *   what a session would pay without a snapshot;
 * - snapshot: a profile whose snapshot holds the clone and the script's result; the session
 *   fetches on top of the clone and runs no script.
 *
 * Everything stays on loopback: the git server is local, npm runs --offline.
 *
 * Sandboxes use the gateway (the default); SANDBOX_NETWORK=host measures them on the host's
 * network instead, for comparison.
 *
 *   npx tsx bench/sandbox-start.ts [runs=7]
 */
import { spawnSync } from "node:child_process";
import { eq } from "drizzle-orm";
import { execCollect, schema } from "@tandem/core";
import { startGitHttpServer } from "../test/fixtures/git-http-server.ts";
import { ModelServer } from "../test/fixtures/model-server.ts";
import { SANDBOX_IMAGE } from "../test/helpers/docker.ts";
import { startStack, until, type Stack } from "../test/helpers/stack.ts";

const runs = Number(process.argv[2] ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Packs the repository's vendored package and installs the tarball, without a registry. */
const SETUP_SCRIPT = `set -e
cd acme/app
npm pack --silent ./vendor/left-pad-lite >/dev/null
npm install --offline --no-audit --no-fund --silent ./left-pad-lite-1.0.0.tgz
node -e 'require("left-pad-lite")'`;

const REPO_FILES = {
  "README.md": "# app\n",
  "package.json": `${JSON.stringify({ name: "app", version: "1.0.0", private: true }, null, 2)}\n`,
  "vendor/left-pad-lite/package.json": `${JSON.stringify({ name: "left-pad-lite", version: "1.0.0", main: "index.js" }, null, 2)}\n`,
  "vendor/left-pad-lite/index.js":
    "module.exports = (s, n, c = ' ') => String(s).padStart(n, c);\n",
};

/** Starts a session and returns ms from accepted to agent started, then stops it and waits for its sandbox to go. */
async function startOnce(
  stack: Stack,
  body: Record<string, string>,
  whileRunning?: (sandboxId: string) => Promise<void>,
) {
  let startedAt = 0;
  const accepted = await stack.owner.request("POST", "/api/sessions", { prompt: "hi", ...body });
  const acceptedAt = performance.now();
  if (accepted.status !== 201) throw new Error(`session refused: ${JSON.stringify(accepted.body)}`);
  const id = accepted.body.id as string;
  const unsubscribe = await stack.rt.bus.subscribe(id, (e) => {
    if (e.body.type === "status" && e.body.status === "running" && !startedAt)
      startedAt = performance.now();
    if (e.body.type === "error") console.error(`session ${id}: ${JSON.stringify(e.body)}`);
  });
  await until("the agent to start", async () => startedAt > 0, 120_000);
  await unsubscribe();
  const ms = startedAt - acceptedAt;
  const sandbox = async () =>
    (
      await stack.rt.database.db
        .select()
        .from(schema.sandboxes)
        .where(eq(schema.sandboxes.sessionId, id))
    )[0];
  if (whileRunning) await whileRunning((await sandbox())!.externalId!);
  await stack.owner.request("POST", `/api/sessions/${id}/stop`);
  await until("the sandbox to go", async () => (await sandbox())?.removedAt, 30_000);
  return ms;
}

async function main() {
  const git = await startGitHttpServer({ username: "u", password: "bench-password" });
  git.createRepo("acme/app", REPO_FILES);
  const model = await new ModelServer(
    Array.from({ length: 3 * (runs + 1) }, () => ({ message: "ok" })),
  ).listen();
  const stack = await startStack(
    "postgres",
    {
      SANDBOX_PROVIDER: "docker",
      SANDBOX_IMAGE,
      MODEL_UPSTREAM_URL: model.url,
      AGENT_MODEL: "test-model",
      LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
      SANDBOX_NETWORK: process.env.SANDBOX_NETWORK ?? "gateway",
    },
    { pollMs: 50 },
  );
  // Whatever fails, the stack (its database, Redis keys, data directory) and the fixtures go.
  let snapshotImage: string | undefined;
  try {
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: git.url("acme/app"),
      credential: { username: "u", password: "bench-password" },
    });
    await stack.owner.request("POST", "/api/profiles", { name: "bench" });
    await stack.owner.request("PUT", "/api/profiles/bench/draft", {
      spec: { repositories: [{ name: "acme/app" }], setupScript: SETUP_SCRIPT },
    });
    await stack.owner.request("POST", "/api/profiles/bench/publish");
    const snapshot = await until(
      "the snapshot",
      async () => {
        const s = (await stack.owner.request("GET", "/api/profiles/bench")).body.published[0]
          ?.snapshot;
        return s && s.status !== "queued" && s.status !== "running" ? s : null;
      },
      300_000,
    );
    if (snapshot.status !== "ready") throw new Error(`the snapshot failed:\n${snapshot.log}`);
    snapshotImage = snapshot.imageRef;

    // Cold: the default profile clones at start; the setup script is timed in the same sandbox.
    const coldMs: number[] = [];
    const scriptMs: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const ms = await startOnce(stack, { repository: "acme/app" }, async (sandboxId) => {
        const t = performance.now();
        const r = await execCollect(stack.sandboxes, sandboxId, ["bash", "-lc", SETUP_SCRIPT], {
          cwd: stack.sandboxes.layout(sandboxId).workspace,
        });
        if (r.exitCode !== 0) throw new Error(`the setup script failed: ${r.stderr}`);
        if (i > 0) scriptMs.push(performance.now() - t);
      });
      if (i > 0) coldMs.push(ms); // the first run warms caches
    }
    const snapshotMs: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const ms = await startOnce(stack, { profile: "bench" });
      if (i > 0) snapshotMs.push(ms);
    }
    const dockerMs: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t = performance.now();
      // The snapshot keeps the sandbox's keep-alive entrypoint: replace it, as a bare run would.
      const r = spawnSync("docker", [
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "true",
        snapshot.imageRef,
      ]);
      if (r.status !== 0) throw new Error(`docker run failed: ${r.stderr}`);
      if (i > 0) dockerMs.push(performance.now() - t);
    }

    const cold = median(coldMs) + median(scriptMs);
    const snap = median(snapshotMs);
    const bare = median(dockerMs);
    console.log(
      `sandbox-start: ${runs} runs, base image ${SANDBOX_IMAGE}, snapshot ${snapshot.imageRef}, SANDBOX_NETWORK=${stack.rt.config.SANDBOX_NETWORK}`,
    );
    console.log(
      `  cold: session accepted -> agent started (median): ${median(coldMs).toFixed(0)} ms + setup script ${median(scriptMs).toFixed(0)} ms = ${cold.toFixed(0)} ms`,
    );
    console.log(`  snapshot: session accepted -> agent started (median): ${snap.toFixed(0)} ms`);
    console.log(
      `  bare docker run --rm --network none --entrypoint true <snapshot image> (median): ${bare.toFixed(0)} ms`,
    );
    console.log(
      `  cold / snapshot: ${(cold / snap).toFixed(2)}x; snapshot / bare docker run: ${(snap / bare).toFixed(2)}x (goal < 2x)`,
    );
  } finally {
    await stack.close();
    await model.close();
    await git.close();
    if (snapshotImage) spawnSync("docker", ["rmi", "-f", snapshotImage], { stdio: "ignore" });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
