/**
 * Linear: the time from an `AgentSessionEvent` created webhook (signed, posted to
 * /hooks/linear) to the first activity reaching the fake Linear API, which Linear wants within
 * 10 s (else the agent shows as unresponsive). With the worker running and sessions starting in
 * `local` sandboxes, so the sandbox work competes with the acknowledgment as it does in use. The
 * webhook's own answer time is measured in the same run, as the baseline.
 *
 *   npx tsx bench/linear-first-activity.ts [sessions=40] [concurrency=4]
 */
import { commandAdapter } from "@tandem/core";
import { FakeLinear } from "../test/fixtures/fake-linear.ts";
import { startGitHttpServer } from "../test/fixtures/git-http-server.ts";
import { agentSessionCreated, LINEAR_WEBHOOK_SECRET, postLinear } from "../test/helpers/linear.ts";
import { startStack } from "../test/helpers/stack.ts";

const SESSIONS = Number(process.argv[2] ?? 40);
const CONCURRENCY = Number(process.argv[3] ?? 4);
const LINEAR_LIMIT_MS = 10_000;
const AGENT = ["node", new URL("../test/fixtures/slack-agent.mjs", import.meta.url).pathname];
const GIT = { username: "bench", password: "bench-git-password" };

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const ms = (n: number) => `${n.toFixed(0)} ms`;

const fake = await new FakeLinear().listen();
const git = await startGitHttpServer(GIT);
git.createRepo("acme/app", { "README.md": "# app\n" });
const stack = await startStack(
  "postgres",
  {
    LINEAR_API_URL: fake.url,
    LINEAR_API_KEY: "lin_api_bench_key",
    LINEAR_WEBHOOK_SECRET,
    SANDBOX_PROVIDER: "local",
    SESSION_CONCURRENCY: "4",
  },
  { agent: commandAdapter(AGENT) },
);
try {
  const repo = await stack.owner.request("POST", "/api/repositories", {
    name: "acme/app",
    cloneUrl: git.url("acme/app"),
    defaultBranch: "main",
    credential: GIT,
  });
  if (repo.status !== 201) throw new Error(`repository: ${repo.status}`);

  const acks: number[] = [];
  const firsts: number[] = [];
  const one = async () => {
    const issue = fake.addIssue({ title: "Bench" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    const payload = agentSessionCreated({
      agentSessionId,
      issue,
      comment: { body: "@tandem please look" },
    });
    const sent = performance.now();
    const res = await postLinear(stack.base, payload);
    acks.push(performance.now() - sent);
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.text}`);
    await fake.waitFor(
      "the first activity",
      () => fake.activitiesOf(agentSessionId).length > 0,
      30_000,
    );
    firsts.push(performance.now() - sent);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < SESSIONS) {
        next++;
        await one();
      }
    }),
  );
  const median = pct(firsts, 0.5);
  const p99 = pct(firsts, 0.99);
  console.log(`${SESSIONS} sessions, ${CONCURRENCY} at a time`);
  console.log(
    `webhook answered (baseline): median ${ms(pct(acks, 0.5))}, p99 ${ms(pct(acks, 0.99))}`,
  );
  console.log(`created webhook → first activity at Linear: median ${ms(median)}, p99 ${ms(p99)}`);
  console.log(
    `Linear's limit ${ms(LINEAR_LIMIT_MS)}: median ${(median / LINEAR_LIMIT_MS).toFixed(3)}x, p99 ${(p99 / LINEAR_LIMIT_MS).toFixed(3)}x of it; ` +
      `first activity / webhook answer: ${(median / pct(acks, 0.5)).toFixed(1)}x`,
  );
} finally {
  await stack.close();
  await git.close();
  await fake.close();
}
