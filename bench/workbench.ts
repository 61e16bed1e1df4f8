/**
 * The workbench's two felt latencies:
 * 1. p50/p99 from an agent event being stored (`appendEvent`, the worker's path) to it arriving
 *    in a connected client: a Node reader of the SSE stream `GET /api/sessions/:id/events`, and the
 *    session page in headless Chromium (stamped by a MutationObserver as its timeline item lands);
 * 2. the time from opening Changes to a rendered 5,000-line diff in headless Chromium
 *    (GET /changes in the real docker sandbox, then diff2html), with the server part alone.
 *
 * 3. (`page`) the UI's production bundle (gzipped JavaScript and CSS: all of it, and what a page
 *    loads before first use of a terminal or Changes) and the time from navigating to a session
 *    page with 1,000 events to its timeline showing the newest (and to all 1,000 in the list), in
 *    headless Chromium, against the same browser loading a bare static page from the same server.
 *
 *   npx tsx bench/workbench.ts [events=500]
 *   npx tsx bench/workbench.ts page [events=1000]
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { appendEvent, issueToken } from "@tandem/core";
import { startGitHttpServer } from "../test/fixtures/git-http-server.ts";
import { ModelServer } from "../test/fixtures/model-server.ts";
import { launchBrowser } from "../test/helpers/browser.ts";
import { SANDBOX_IMAGE } from "../test/helpers/docker.ts";
import { openSse } from "../test/helpers/sse.ts";
import { startStack, until } from "../test/helpers/stack.ts";

const mode = process.argv[2] === "page" ? "page" : "live";
const events = Number(
  (mode === "page" ? process.argv[3] : process.argv[2]) ?? (mode === "page" ? 1000 : 500),
);
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function main() {
  const git = await startGitHttpServer({ username: "u", password: "p" });
  await git.createRepo("acme/app", { "README.md": "# app\n" });
  const model = await new ModelServer([
    { shell: "seq 5000 > big.txt" },
    { message: "wrote big.txt" },
  ]).listen();
  const stack = await startStack("postgres", {
    PUBLIC_URL: "self",
    SANDBOX_PROVIDER: "docker",
    SANDBOX_IMAGE,
    MODEL_UPSTREAM_URL: model.url,
    AGENT_MODEL: "test-model",
    LOG_LEVEL: "silent",
  });
  await stack.owner.request("POST", "/api/repositories", {
    name: "acme/app",
    cloneUrl: git.url("acme/app"),
    credential: { username: "u", password: "p" },
  });
  const id = (
    await stack.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "write big.txt",
    })
  ).body.id as string;
  await until(
    "the turn to end",
    async () => (await stack.owner.request("GET", `/api/sessions/${id}`)).body.status === "idle",
    120_000,
  );

  // 1. Event latency through Postgres + Redis pub/sub + SSE.
  const sse = await openSse(`${stack.base}/api/sessions/${id}/events`, {
    authorization: `Bearer ${stack.owner.token}`,
  });
  await until("the backlog", async () =>
    sse.frames.some((f) => f.data.type === "status" && f.data.status === "idle"),
  );
  const deps = { db: stack.rt.database.db, bus: stack.rt.bus, logger: stack.rt.logger };
  const latencies: number[] = [];
  for (let i = 0; i < events; i++) {
    // Arrival is stamped by the stream reader as the frame lands; storing is measured from the
    // append call, whose transaction commit is the moment the event is stored.
    const arrived = sse.waitFor(sse.frames.length + 1, 10_000).then(() => performance.now());
    const t0 = performance.now();
    await appendEvent(deps, id, { type: "message", role: "assistant", text: `bench ${i}` });
    latencies.push((await arrived) - t0);
  }
  await sse.close();

  // 1b. The same, into the session page's timeline in Chromium. Both sides stamp wall-clock time
  // (timeOrigin + now, high resolution on one machine), so no round trip to the page is counted.
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
    userId: stack.rt.ownerId,
    kind: "login",
    ttlMs: 60_000,
  });
  await page.goto(`${stack.base}/login/${login.token}?next=/sessions/${id}`);
  await page.waitForSelector("[data-testid=status][data-status=idle]");
  await page.waitForSelector(`[data-testid=timeline] .ev.message >> text=bench ${events - 1}`);
  await page.evaluate(() => {
    const arrivals: Record<string, number> = {};
    (window as any).__arrivals = arrivals;
    new MutationObserver((records) => {
      const at = performance.timeOrigin + performance.now();
      for (const r of records)
        for (const n of r.addedNodes) {
          const m = (n as HTMLElement).textContent?.match(/^browser (\d+)$/);
          if (m) arrivals[m[1]!] = at;
        }
    }).observe(document.querySelector("[data-testid=timeline]")!, { childList: true });
  });
  const now = () => performance.timeOrigin + performance.now();
  const browserLatencies: number[] = [];
  for (let i = 0; i < events; i++) {
    const t0 = now();
    await appendEvent(deps, id, { type: "message", role: "assistant", text: `browser ${i}` });
    // No named helpers in page functions: tsx's keepNames would reference `__name`, absent there.
    const arrival = await page.waitForFunction(
      (n) => (window as any).__arrivals[n] as number | undefined,
      String(i),
      { polling: 1, timeout: 10_000 },
    );
    const arrivedAt = (await arrival.jsonValue()) as number;
    browserLatencies.push(arrivedAt - t0);
  }

  // 2. A 5,000-line diff, served from the sandbox and rendered in Chromium.
  const serverMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const r = await stack.owner.request("GET", `/api/sessions/${id}/changes`);
    if (r.body.totals?.added !== 5000)
      throw new Error(`unexpected changes: ${JSON.stringify(r.body.totals)}`);
    serverMs.push(performance.now() - t);
  }
  const renderMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    await page.evaluate(() => document.querySelector("[data-testid=changes]")!.replaceChildren());
    const t = performance.now();
    await page.click("[data-testid=changes-tab]");
    await page.waitForSelector("[data-testid=changes] .d2h-file-wrapper");
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
    renderMs.push(performance.now() - t);
  }
  await browser.close();
  await stack.close();
  await model.close();
  await git.close();

  console.log(
    `event stored → client (SSE), ${events} events: p50 ${ms(pct(latencies, 50))}, p99 ${ms(pct(latencies, 99))}, max ${ms(Math.max(...latencies))}`,
  );
  console.log(
    `event stored → timeline in Chromium, ${events} events: p50 ${ms(pct(browserLatencies, 50))}, p99 ${ms(pct(browserLatencies, 99))}, max ${ms(Math.max(...browserLatencies))}`,
  );
  console.log(
    `5,000-line diff: GET /changes median ${ms(pct(serverMs, 50))}; open Changes → rendered in Chromium median ${ms(pct(renderMs, 50))} (max ${ms(Math.max(...renderMs))})`,
  );
}

/** The built UI's assets, gzipped (what a browser downloads on the first visit). */
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** Gzipped sizes of the built UI: all of it, and the scripts index.html loads (entry and preloads). */
function bundleSizes() {
  const dist = path.join(import.meta.dirname, "../web/ui/dist");
  const html = readFileSync(path.join(dist, "index.html"), "utf8");
  const initial = new Set(
    [...html.matchAll(/(?:src|href)="[^"]*\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!),
  );
  const sizes = { js: 0, initialJs: 0, css: 0, files: 0 };
  for (const name of readdirSync(path.join(dist, "assets"))) {
    const gz = gzipSync(readFileSync(path.join(dist, "assets", name)), { level: 9 }).length;
    if (name.endsWith(".js")) sizes.js += gz;
    if (initial.has(name)) sizes.initialJs += gz;
    else if (name.endsWith(".css")) sizes.css += gz;
    sizes.files++;
  }
  return sizes;
}

async function pageBench() {
  const stack = await startStack(
    "postgres",
    { PUBLIC_URL: "self", LOG_LEVEL: "silent" },
    { none: true },
  );
  await stack.owner.request("POST", "/api/repositories", {
    name: "acme/app",
    cloneUrl: "https://git.example.test/acme/app.git",
  });
  const id = (
    await stack.owner.request("POST", "/api/sessions", { repository: "acme/app", prompt: "bench" })
  ).body.id as string;
  const deps = { db: stack.rt.database.db, bus: stack.rt.bus, logger: stack.rt.logger };
  for (let i = 0; i < events; i++) {
    const body =
      i % 4 === 0
        ? {
            type: "command" as const,
            command: `step ${i}`,
            output: `line ${i}\n`.repeat(5),
            exitCode: 0,
          }
        : {
            type: "message" as const,
            role: "assistant" as const,
            text: `event ${i}: **done** with \`x\``,
          };
    await appendEvent(deps, id, body);
  }
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
    userId: stack.rt.ownerId,
    kind: "login",
    ttlMs: 60_000,
  });
  await page.goto(`${stack.base}/login/${login.token}`);
  const last = events - 1;
  const timeline: number[] = [];
  const bare: number[] = [];
  const complete: number[] = [];
  const phases: Array<{ scripts: number; session: number }> = [];
  for (let i = 0; i < 7; i++) {
    await page.goto("about:blank");
    await page.goto(`${stack.base}/sessions/${id}`);
    // performance.now() counts from the navigation's start; polled every frame.
    // Looks at the newest item only, so the probe itself costs the page next to nothing.
    const shown = await page.waitForFunction(
      (n) => {
        const text = document.querySelector("[data-testid=timeline] > :last-child")?.textContent;
        return text?.includes(`event ${n}:`) || text?.includes(`step ${n}`) ? performance.now() : 0;
      },
      last,
      { polling: "raf", timeout: 30_000 },
    );
    timeline.push((await shown.jsonValue()) as number);
    // …and every one of the events' items in the list (the older ones fill in after the newest).
    const all = await page.waitForFunction(
      (n) =>
        document.querySelectorAll("[data-testid=timeline] > .ev").length >= n
          ? performance.now()
          : 0,
      events,
      { polling: "raf", timeout: 30_000 },
    );
    complete.push((await all.jsonValue()) as number);
    // Where the time went: the scripts loaded, then the session read (the header waits for it).
    const at = await page.evaluate(() =>
      [/\.js$/, /\/api\/sessions\/[0-9a-f-]{36}$/].map((re) =>
        Math.max(
          0,
          ...(performance.getEntriesByType("resource") as PerformanceResourceTiming[])
            .filter((e) => re.test(e.name))
            .map((e) => e.responseEnd),
        ),
      ),
    );
    phases.push({ scripts: at[0]!, session: at[1]! });
    await page.goto("about:blank");
    await page.goto(`${stack.base}/healthz`);
    bare.push(await page.evaluate(() => performance.now()));
  }
  await browser.close();
  await stack.close();
  const sizes = bundleSizes();
  const median = (xs: number[]) => pct(xs, 50);
  console.log(
    `UI bundle (web/ui/dist, gzipped): JavaScript ${kb(sizes.js)} in all, ${kb(sizes.initialJs)} of it loaded with a page (the rest, xterm.js and the diff view, on first use); CSS ${kb(sizes.css)}; ${sizes.files} files`,
  );
  console.log(
    `navigation → session page timeline with ${events} events showing its newest: median ${ms(median(timeline))} (max ${ms(Math.max(...timeline))}); all ${events} in the list: median ${ms(median(complete))}; a bare page from the same server: median ${ms(median(bare))}; ratio ${(median(timeline) / median(bare)).toFixed(1)}x`,
  );
  console.log(
    `  of which (medians from navigation): scripts loaded ${ms(median(phases.map((p) => p.scripts)))}, session read ${ms(median(phases.map((p) => p.session)))}`,
  );
}

(mode === "page" ? pageBench() : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
