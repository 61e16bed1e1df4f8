/**
 * Median time from "session accepted" (POST /api/sessions answered 201) to "agent process
 * started" (the session's `running` status, announced once the agent was launched in its
 * sandbox), for a warm image with the docker provider; next to a bare `docker run` of the
 * same image measured in the same run.
 *
 *   npx tsx bench/sandbox-start.ts [runs=7]
 */
import { spawnSync } from "node:child_process";
import { startGitHttpServer } from "../test/fixtures/git-http-server.ts";
import { ModelServer } from "../test/fixtures/model-server.ts";
import { SANDBOX_IMAGE } from "../test/helpers/docker.ts";
import { startStack, until } from "../test/helpers/stack.ts";
import { schema } from "@tandem/core";
import { eq } from "drizzle-orm";

const runs = Number(process.argv[2] ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const git = await startGitHttpServer({ username: "u", password: "bench-password" });
  await git.createRepo("acme/app", { "README.md": "# app\n" });
  const model = await new ModelServer(Array.from({ length: runs + 1 }, () => ({ message: "ok" }))).listen();
  const stack = await startStack("postgres", {
    SANDBOX_PROVIDER: "docker", SANDBOX_IMAGE, MODEL_UPSTREAM_URL: model.url, AGENT_MODEL: "test-model", LOG_LEVEL: "silent",
  }, { pollMs: 50 });
  await stack.owner.request("POST", "/api/repositories", {
    name: "acme/app", cloneUrl: git.url("acme/app"), credential: { username: "u", password: "bench-password" },
  });

  const sessionMs: number[] = [];
  for (let i = 0; i <= runs; i++) {
    let startedAt = 0;
    const accepted = await stack.owner.request("POST", "/api/sessions", { repository: "acme/app", prompt: "hi" });
    const acceptedAt = performance.now();
    const id = accepted.body.id as string;
    const unsubscribe = await stack.rt.bus.subscribe(id, (e) => {
      if (e.body.type === "status" && e.body.status === "running" && !startedAt) startedAt = performance.now();
    });
    await until("the agent to start", async () => startedAt > 0, 60_000);
    await unsubscribe();
    if (i > 0) sessionMs.push(startedAt - acceptedAt); // the first run warms caches
    await stack.owner.request("POST", `/api/sessions/${id}/stop`);
    await until("the sandbox to go", async () => {
      const [row] = await stack.rt.database.db.select().from(schema.sandboxes).where(eq(schema.sandboxes.sessionId, id));
      return row?.removedAt;
    }, 30_000);
  }

  const dockerMs: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const t = performance.now();
    const r = spawnSync("docker", ["run", "--rm", "--network", "none", SANDBOX_IMAGE, "true"]);
    if (r.status !== 0) throw new Error(`docker run failed: ${r.stderr}`);
    if (i > 0) dockerMs.push(performance.now() - t);
  }

  await stack.close();
  await model.close();
  await git.close();
  const s = median(sessionMs);
  const d = median(dockerMs);
  console.log(`sandbox-start: ${runs} runs, image ${SANDBOX_IMAGE}`);
  console.log(`  session accepted -> agent started (median): ${s.toFixed(0)} ms`);
  console.log(`  bare docker run --rm ${SANDBOX_IMAGE} true (median): ${d.toFixed(0)} ms`);
  console.log(`  ratio: ${(s / d).toFixed(2)}x`);
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
