import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { appendEvent } from "@tandem/core";
import { chromiumAvailable, launchBrowser, signIn } from "../helpers/browser.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

const skip = !chromiumAvailable();
const EVENTS = 400;

/**
 * A long session's timeline: the replay shows its newest items first and fills the older ones in
 * above them, ending with every item once and in order; Markdown without links or HTML takes the
 * quick path, and what could carry a link or HTML still goes through the sanitiser.
 */
describe.skipIf(skip)("a long session's timeline in headless Chromium", { timeout: 90_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let id: string;

  beforeAll(async () => {
    stack = await startStack("postgres", { PUBLIC_URL: "self" }, { none: true });
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
    });
    id = (
      await stack.owner.request("POST", "/api/sessions", { repository: "acme/app", prompt: "go" })
    ).body.id as string;
    const deps = { db: stack.rt.database.db, bus: stack.rt.bus, logger: stack.rt.logger };
    for (let i = 0; i < EVENTS; i++)
      await appendEvent(
        deps,
        id,
        i % 3 === 0
          ? { type: "command", command: `step ${i}`, output: `line ${i}\n`, exitCode: 0 }
          : { type: "message", role: "assistant", text: `event ${i}: **done**` },
      );
    await appendEvent(deps, id, {
      type: "message",
      role: "assistant",
      text:
        "See [this](javascript:window.__xss='link') and ![i](x.png) and https://example.test/docs " +
        "and <b onclick=\"window.__xss='b'\">bold</b>.",
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, stack, stack.rt.ownerId, `/sessions/${id}`);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows the newest items first, then every item once, in order", async () => {
    // How many items the list held when the newest first showed.
    await page.addInitScript(() => {
      const seen = new MutationObserver(() => {
        const list = document.querySelector("[data-testid=timeline]");
        if (!list?.lastElementChild?.textContent?.includes("See this")) return;
        (window as { __atNewest?: number }).__atNewest = list.children.length;
        seen.disconnect();
      });
      seen.observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${stack.base}/sessions/${id}`);
    await page.waitForSelector("[data-testid=timeline] > :last-child >> text=See this");
    expect(await page.evaluate(() => (window as { __atNewest?: number }).__atNewest)).toBe(150);
    await page.waitForFunction(
      (n) => document.querySelectorAll("[data-testid=timeline] > .ev").length >= n,
      EVENTS + 2, // the task, its status, the events, the last message (less the task's own)
    );
    const seqs = await page.$$eval("[data-testid=timeline] > .ev", (els) =>
      els.map((e) => Number((e as HTMLElement).dataset.seq)),
    );
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    const texts = await page.$$eval("[data-testid=timeline] > .ev", (els) =>
      els.map((e) => e.textContent ?? ""),
    );
    expect(texts.filter((t) => t.includes("event 1: done"))).toHaveLength(1);
    expect(
      texts.filter((t) => t.includes(`step ${EVENTS - 1}`) || t.includes(`event ${EVENTS - 1}:`)),
    ).toHaveLength(1);
    // The quick path still renders Markdown.
    expect(
      await page.$$eval("[data-testid=timeline] .ev strong", (els) => els.length),
    ).toBeGreaterThan(100);
  });

  it("sends a message that could carry a link or HTML through the sanitiser", async () => {
    const last = "[data-testid=timeline] > :last-child";
    const hrefs = await page.$$eval(`${last} a`, (as) => as.map((a) => a.getAttribute("href")));
    expect(hrefs.some((h) => h?.startsWith("javascript:"))).toBe(false);
    expect(hrefs).toContain("https://example.test/docs");
    expect(await page.getAttribute(`${last} a[href='https://example.test/docs']`, "target")).toBe(
      "_blank",
    );
    expect(await page.getAttribute(`${last} b`, "onclick")).toBeNull();
    await page.click(`${last} b`);
    expect(await page.evaluate(() => (window as { __xss?: string }).__xss)).toBeUndefined();
  });
});
