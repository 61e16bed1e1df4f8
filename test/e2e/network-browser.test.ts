import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, schema } from "@tandem/core";
import { createEgressProxy } from "@tandem/web";
import { startUpstreams, type Upstreams } from "../fixtures/egress-upstreams.ts";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

/** One request through the proxy, as a sandbox's HTTP client sends it (absolute URI); its status. */
const through = (proxyPort: number, url: string) =>
  new Promise<number>((resolve, reject) => {
    http
      .get(
        { host: "127.0.0.1", port: proxyPort, path: url, headers: { host: new URL(url).host } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode!));
        },
      )
      .on("error", reject);
  });

describe.skipIf(!chromiumAvailable())("the workbench's Network tab", () => {
  let up: Upstreams;
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let proxy: http.Server;
  let sessionId: string;

  beforeAll(async () => {
    up = await startUpstreams();
    stack = await startStack(
      "postgres",
      {
        PUBLIC_URL: "self",
        SANDBOX_PROVIDER: "local",
        SANDBOX_HOST_ALIASES: `npm.test=127.0.0.1:${up.http.port}`,
      },
      { none: true },
    );
    const { db } = stack.rt.database;
    const [repo] = await db
      .insert(schema.repositories)
      .values({
        orgId: stack.rt.defaultOrgId,
        name: "acme/app",
        cloneUrl: "https://git.example.test/acme/app.git",
      })
      .returning();
    const [session] = await db
      .insert(schema.sessions)
      .values({
        orgId: stack.rt.defaultOrgId,
        repositoryId: repo!.id,
        prompt: "install things",
        status: "idle",
      })
      .returning();
    sessionId = session!.id;
    const identity = {
      grant: {
        orgId: stack.rt.defaultOrgId,
        repositoryIds: [repo!.id],
        sessionId,
        purpose: "session",
      },
      policy: { egress: "allowlist" as const, allow: ["npm.test"] },
      profileLabel: "profile node v2",
    };
    proxy = createEgressProxy(
      { db, logger: stack.rt.logger, clock: stack.rt.clock, config: stack.rt.config },
      { identify: () => identity },
    );
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const login = await issueToken(db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    await page.goto(`${stack.base}/login/${login.token}`);
  }, 60_000);
  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
    await browser?.close();
    await stack?.close();
    await up?.close();
  });

  it("lists what the sandbox reached and what was blocked, newest first", async () => {
    const port = (proxy.address() as AddressInfo).port;
    expect(await through(port, "http://npm.test/left-pad")).toBe(200);
    expect(await through(port, "http://evil.test/exfiltrate")).toBe(403);
    await until(
      "both records closed",
      async () => {
        const rows = await stack.rt.database.db.select().from(schema.sandboxEgress);
        return rows.length === 2 && rows.every((r) => r.closedAt);
      },
      5_000,
    );

    await page.goto(`${stack.base}/sessions/${sessionId}`);
    await page.click("[data-testid=network-tab]");
    await page.waitForSelector("[data-testid=network] tr[data-host]");
    const rows = await page.$$eval("[data-testid=network] tbody tr", (trs) =>
      trs.map((tr) => ({
        host: tr.getAttribute("data-host"),
        decision: tr.getAttribute("data-decision"),
        cells: [...tr.querySelectorAll("td")].slice(1).map((td) => td.textContent),
      })),
    );
    expect(rows).toEqual([
      { host: "evil.test", decision: "blocked", cells: ["evil.test", "GET", "blocked", ""] },
      {
        host: "npm.test",
        decision: "allowed",
        cells: ["npm.test", "GET", "allowed", `↑ 0 B ↓ ${"GET /left-pad ".length} B`],
      },
    ]);
    expect(
      await page.getAttribute(
        "[data-testid=network] tr[data-host='evil.test'] td.decision",
        "title",
      ),
    ).toBe("egress allowlist");
    await page.screenshot({ path: `${ARTIFACTS}/workbench-network.png` });
  }, 30_000);
});
