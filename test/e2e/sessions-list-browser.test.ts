import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { appendEvent, schema, transitionSession } from "@tandem/core";
import { chromiumAvailable, launchBrowser, signIn } from "../helpers/browser.ts";
import { checkPage } from "../helpers/screens.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

const skip = !chromiumAvailable();

/**
 * The sessions list on `/`: each row's title, status, failure reason, source, repository and
 * branch, pull request and diff stats; the filters and search kept in the address bar; and the
 * rows kept current from the live feed while the page stays open.
 */
describe.skipIf(skip)("the sessions list in headless Chromium", { timeout: 90_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let failed: string;
  let worked: string;

  const row = (id: string) => `[data-testid=session-row][data-id='${id}']`;
  const start = async (prompt: string, repository = "acme/app") => {
    const res = await stack.owner.request("POST", "/api/sessions", { repository, prompt });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  const fail = (id: string, reason: string) =>
    transitionSession(
      {
        db: stack.rt.database.db,
        bus: stack.rt.bus,
        logger: stack.rt.logger,
        clock: stack.rt.clock,
      },
      { id, status: "queued" },
      "failed",
      reason,
    );
  const shownIds = () =>
    page.$$eval("[data-testid=session-row]", (rows) => rows.map((r) => r.getAttribute("data-id")));
  /** The list, not the form above it, in the screenshots. */
  const toList = () => page.locator("#recent-title").scrollIntoViewIfNeeded();
  const expectClean = (check: { violations: string[]; overflow: string[] }) => {
    expect(check.violations).toEqual([]);
    expect(check.overflow).toEqual([]);
  };

  beforeAll(async () => {
    // No worker: sessions stay queued until the test moves them, as a worker would.
    stack = await startStack("postgres", { PUBLIC_URL: "self" }, { none: true });
    for (const name of ["acme/app", "acme/site"])
      await stack.owner.request("POST", "/api/repositories", {
        name,
        cloneUrl: `https://git.example.test/${name}.git`,
      });
    failed = await start("Upgrade the build image\n\nand fix what breaks");
    await fail(failed, "snapshot_missing: the profile has no ready snapshot");
    worked = await start("Rewrite the landing page copy", "acme/site");
    const { db } = stack.rt.database;
    await db
      .update(schema.sessions)
      .set({
        branch: "tandem/landing-copy",
        pullRequestUrl: "https://github.com/acme/site/pull/12",
      })
      .where(eq(schema.sessions.id, worked));
    await appendEvent({ db, bus: stack.rt.bus, logger: stack.rt.logger }, worked, {
      type: "diff_stat",
      files: [
        { path: "index.html", added: 10, removed: 3 },
        { path: "copy.md", added: 2, removed: 0 },
      ],
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, stack, stack.rt.ownerId);
    await page.waitForSelector(row(worked));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows each session's title, status, failure reason, source, repository and branch, pull request and diff stats", async () => {
    expect(await page.textContent(`${row(failed)} [data-testid=session-title]`)).toBe(
      "Upgrade the build image",
    );
    expect(await page.textContent(`${row(failed)} [data-testid=session-status]`)).toBe("failed");
    expect(await page.textContent(`${row(failed)} [data-testid=session-error]`)).toBe(
      "snapshot_missing: the profile has no ready snapshot",
    );
    expect(await page.textContent(`${row(failed)} [data-testid=session-source]`)).toBe("Workbench");
    const w = row(worked);
    expect(await page.textContent(`${w} [data-testid=session-status]`)).toBe("queued");
    expect(await page.$(`${w} [data-testid=session-error]`)).toBeNull();
    expect(await page.textContent(`${w} .session-meta`)).toContain("acme/site");
    expect(await page.textContent(`${w} .branch`)).toBe("tandem/landing-copy");
    expect(await page.getAttribute(`${w} [data-testid=session-pr]`, "href")).toBe(
      "https://github.com/acme/site/pull/12",
    );
    expect(await page.textContent(`${w} [data-testid=session-diffstat]`)).toBe("+12 −3 · 2 files");
    expect(await page.textContent(`${w} time`)).toBe("just now");
    expect(await shownIds()).toEqual([worked, failed]);
    expectClean(await checkPage(page, "sessions-list", toList));
  });

  it("adds a session started elsewhere and updates a badge and failure live, without a reload", async () => {
    await page.evaluate(() => ((window as unknown as { stayed: boolean }).stayed = true));
    const fresh = await start("Add a changelog entry");
    await page.waitForSelector(row(fresh));
    expect(await shownIds()).toEqual([fresh, worked, failed]);
    await page.waitForSelector(
      "[data-testid=sessions-live]:has-text('New session: Add a changelog entry')",
      {
        state: "attached",
      },
    );

    await stack.owner.request("POST", `/api/sessions/${fresh}/stop`);
    await page.waitForSelector(`${row(fresh)} [data-testid=session-status]:text-is('stopped')`);
    await stack.owner.request("PATCH", `/api/sessions/${worked}`, { title: "Landing page copy" });
    await page.waitForSelector(
      `${row(worked)} [data-testid=session-title]:text-is('Landing page copy')`,
    );

    const doomed = await start("Migrate the database");
    await page.waitForSelector(row(doomed));
    await fail(doomed, "agent exited with code 1");
    await page.waitForSelector(
      `${row(doomed)} [data-testid=session-error]:text-is('agent exited with code 1')`,
    );
    expect(await page.textContent(`${row(doomed)} [data-testid=session-status]`)).toBe("failed");
    await page.waitForSelector(
      "[data-testid=sessions-live]:has-text('Migrate the database: failed')",
      {
        state: "attached",
      },
    );
    const gone = await start("Throwaway");
    await page.waitForSelector(row(gone));
    await stack.owner.request("POST", `/api/sessions/${gone}/stop`);
    expect((await stack.owner.request("DELETE", `/api/sessions/${gone}`)).status).toBe(204);
    await page.waitForSelector(row(gone), { state: "detached" });
    expect(await page.evaluate(() => (window as unknown as { stayed?: boolean }).stayed)).toBe(
      true,
    );
  });

  it("narrows the list by status, source, repository and search, keeps them across a reload, and clears them", async () => {
    await page.selectOption("[data-testid=filter-status]", "failed");
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=session-row]").length === 2,
    );
    expect(new URL(page.url()).searchParams.get("status")).toBe("failed");
    for (const status of await page.$$eval("[data-testid=session-status]", (els) =>
      els.map((e) => e.textContent),
    ))
      expect(status).toBe("failed");

    await page.fill("[data-testid=session-search]", "build image");
    await page.waitForFunction(
      () => new URL(location.href).searchParams.get("q") === "build image",
    );
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=session-row]").length === 1,
    );
    expect(await shownIds()).toEqual([failed]);

    await page.reload();
    await page.waitForSelector(row(failed));
    expect(await page.inputValue("[data-testid=session-search]")).toBe("build image");
    expect(await page.inputValue("[data-testid=filter-status]")).toBe("failed");
    expect(await shownIds()).toEqual([failed]);

    // A session that matches arrives live; one that does not stays out.
    await page.selectOption("[data-testid=filter-status]", "");
    await page.fill("[data-testid=session-search]", "");
    await page.selectOption("[data-testid=filter-repository]", "acme/site");
    await page.waitForFunction(() => {
      const params = new URL(location.href).searchParams;
      return params.get("repository") === "acme/site" && !params.has("q");
    });
    // Settled: only the last of those filters (the site's, no search) shows this one alone.
    await page.waitForSelector(row(worked));
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=session-row]").length === 1,
    );
    const elsewhere = await start("Not on the site");
    const onSite = await start("Fix the site footer", "acme/site");
    await page.waitForSelector(row(onSite));
    expect(await page.$(row(elsewhere))).toBeNull();
    expect(await shownIds()).toEqual([onSite, worked]);

    await page.selectOption("[data-testid=filter-source]", "slack");
    await page.waitForSelector("[data-testid=no-matches]");
    expect(await page.textContent("[data-testid=no-matches]")).toContain(
      "No session matches these filters",
    );
    expectClean(await checkPage(page, "sessions-no-match", toList));
    await page.click("[data-testid=clear-filters]");
    await page.waitForSelector(row(elsewhere));
    expect(new URL(page.url()).search).toBe("");
    expect(await page.inputValue("[data-testid=filter-repository]")).toBe("");
    expect((await shownIds()).length).toBe(6);
  });

  it("shows older sessions past the first page", async () => {
    for (let i = 0; i < 50; i++) await start(`Batch task ${i}`);
    await page.goto(`${stack.base}/`);
    await page.waitForSelector("[data-testid=sessions-more]");
    expect((await shownIds()).length).toBe(50);
    await page.click("[data-testid=sessions-more]");
    await page.waitForFunction(
      () => document.querySelectorAll("[data-testid=session-row]").length === 56,
    );
    const all = await shownIds();
    expect(new Set(all).size).toBe(56);
    expect(all.at(-1)).toBe(failed);
    expect(await page.$("[data-testid=sessions-more]")).toBeNull();
  });
});
