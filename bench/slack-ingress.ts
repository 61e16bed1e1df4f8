/**
 * Slack ingress: ack latency and throughput of signed `app_mention` events at 50 concurrent
 * connections (verify the signature, commit to the inbox, answer 200), next to a bare Fastify
 * route on the same kind of loopback port measured in the same run; then, with the worker
 * running, the median time from an event to its status message (with the View session link)
 * reaching the fake Slack.
 *
 *   npx tsx bench/slack-ingress.ts [requests=4000]
 */
import { createHmac } from "node:crypto";
import http from "node:http";
import Fastify from "fastify";
import { eq, sql } from "drizzle-orm";
import { schema, sessionUrl } from "@tandem/core";
import { startWorker } from "@tandem/worker";
import { BOT_USER_ID, FakeSlack, TEAM_ID } from "../test/fixtures/fake-slack.ts";
import { mention, newTs, SIGNING_SECRET } from "../test/helpers/slack.ts";
import { startStack, until } from "../test/helpers/stack.ts";

const REQUESTS = Number(process.argv[2] ?? 4_000);
const CONNECTIONS = 50;
const TIME_CAP_MS = 30_000;
const STATUS_EVENTS = 30;

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

interface Prepared {
  body: string;
  headers: Record<string, string>;
}

function signed(body: string): Prepared {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest("hex")}`;
  return {
    body,
    headers: {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
      "x-slack-request-timestamp": String(timestamp),
      "x-slack-signature": signature,
    },
  };
}

/** Sends the prepared requests over exactly `CONNECTIONS` keep-alive connections; bounded in count and time. */
async function load(url: string, requests: Prepared[]) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const target = new URL(url);
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const deadline = performance.now() + TIME_CAP_MS;
  const send = (req: Prepared) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const r = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: "POST",
          agent,
          headers: req.headers,
        },
        (res) => {
          res.resume();
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(performance.now() - started)
              : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      r.on("error", reject);
      r.end(req.body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < requests.length && performance.now() < deadline) {
        const req = requests[next++]!;
        try {
          latencies.push(await send(req));
        } catch {
          failures++;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    p50: pct(latencies, 0.5),
    p99: pct(latencies, 0.99),
    perSecond: latencies.length / seconds,
    count: latencies.length,
    failures,
  };
}

async function main() {
  const fake = await new FakeSlack().listen();
  const stack = await startStack(
    "postgres",
    {
      SLACK_API_URL: fake.url,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: "xoxb-bench",
      LOG_LEVEL: "silent",
    },
    { none: true },
  );
  const { db } = stack.rt.database;
  await stack.owner.request("POST", "/api/repositories", {
    name: "acme/app",
    cloneUrl: "https://example.invalid/acme/app.git",
  });
  // Sessions stay queued (no sandboxes): the org may run none at once.
  await db
    .update(schema.orgSettings)
    .set({ concurrencyLimit: 0 })
    .where(eq(schema.orgSettings.orgId, stack.rt.defaultOrgId));

  const bare = Fastify();
  bare.removeAllContentTypeParsers();
  bare.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
  bare.post("/bare", async () => "");
  const bareUrl = `${await bare.listen({ port: 0, host: "127.0.0.1" })}/bare`;

  const prepare = (channel: string) =>
    Array.from({ length: REQUESTS }, () =>
      signed(
        JSON.stringify(mention({ teamId: TEAM_ID, channel, text: `<@${BOT_USER_ID}> bench` })),
      ),
    );
  // Warm both up, then measure: the ingress (no worker: the ack path alone), then the bare route.
  await load(`${stack.base}/hooks/slack/events`, prepare("CWARM").slice(0, 300));
  await load(bareUrl, prepare("CWARM").slice(0, 300));
  const ingress = await load(`${stack.base}/hooks/slack/events`, prepare("CBENCH"));
  const plain = await load(bareUrl, prepare("CBARE"));
  const committed = await db.select({ n: sql<number>`count(*)::int` }).from(schema.inboundEvents);

  // The load above is not for the worker: mark it done, then time event → status message.
  await db.update(schema.inboundEvents).set({ processedAt: new Date() });
  await stack.rt.queues.inbound.obliterate({ force: true });
  const worker = startWorker(stack.rt, {
    providers: stack.rt.providers,
    pollMs: 100,
    sweepIntervalMs: 60_000,
  });
  const toStatus: number[] = [];
  const acks: number[] = [];
  const pending = [];
  for (let i = 0; i < STATUS_EVENTS; i++) {
    const ts = newTs();
    const req = signed(
      JSON.stringify(
        mention({ teamId: TEAM_ID, channel: "CSTATUS", ts, text: `<@${BOT_USER_ID}> status ${i}` }),
      ),
    );
    const sentAt = Date.now();
    const t = performance.now();
    const { "content-length": _length, ...headers } = req.headers;
    const res = await fetch(`${stack.base}/hooks/slack/events`, {
      method: "POST",
      body: req.body,
      headers,
    });
    acks.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`ack ${res.status}`);
    pending.push(
      until(
        "the status message",
        async () => {
          const [binding] = await db
            .select()
            .from(schema.sessionBindings)
            .where(eq(schema.sessionBindings.threadKey, `${TEAM_ID}:CSTATUS:${ts}`));
          if (!binding) return false;
          const url = sessionUrl("http://tandem.test", binding.sessionId);
          const post = fake.postsIn("CSTATUS", ts).find((c) => String(c.body.text).includes(url));
          return post ? toStatus.push(post.at - sentAt) : false;
        },
        30_000,
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(pending);

  await worker.close();
  await bare.close();
  await stack.close();
  await fake.close();

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(
    `slack-ingress: signed app_mention events, ${CONNECTIONS} concurrent connections, loopback`,
  );
  console.log(
    `  POST /hooks/slack/events (verify + commit + ack): ${ingress.count} requests, p50 ${ms(ingress.p50)}, p99 ${ms(ingress.p99)}, ${ingress.perSecond.toFixed(0)} req/s, ${ingress.failures} failed`,
  );
  console.log(
    `  bare Fastify POST route, same run:               ${plain.count} requests, p50 ${ms(plain.p50)}, p99 ${ms(plain.p99)}, ${plain.perSecond.toFixed(0)} req/s, ${plain.failures} failed`,
  );
  console.log(
    `  ratio ingress/bare: p50 ${(ingress.p50 / plain.p50).toFixed(1)}x, p99 ${(ingress.p99 / plain.p99).toFixed(1)}x, throughput ${(ingress.perSecond / plain.perSecond).toFixed(2)}x`,
  );
  console.log(`  inbox rows committed: ${committed[0]!.n}`);
  console.log(
    `  event -> status message with the link at the fake Slack (worker running, ${STATUS_EVENTS} events): median ${toStatus.length ? pct(toStatus, 0.5).toFixed(0) : "-"} ms, p90 ${pct(toStatus, 0.9).toFixed(0)} ms`,
  );
  console.log(
    `  ack while the worker is busy with them: p50 ${ms(pct(acks, 0.5))}, max ${ms(Math.max(...acks))}`,
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
