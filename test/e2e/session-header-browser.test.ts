import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { eq } from "drizzle-orm";
import { addMember, schema } from "@tandem/core";
import { chromiumAvailable, launchBrowser, signIn } from "../helpers/browser.ts";
import { checkPage } from "../helpers/screens.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

const skip = !chromiumAvailable();

/**
 * The session page's header: the title (the task's first line until someone renames it, in place),
 * the repository and its branch, the status and the pull request, at both widths and in both
 * schemes. (The link back to where a session came from is tested with each provider.)
 */
describe.skipIf(skip)("the session header in headless Chromium", { timeout: 90_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let id: string;
  const PR = "https://github.com/acme/app/pull/12";

  beforeAll(async () => {
    stack = await startStack("postgres", { PUBLIC_URL: "self" }, { none: true });
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
    });
    id = (
      await stack.owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "Fix the flaky login test\n\nIt fails one run in ten on CI.",
      })
    ).body.id as string;
    await stack.rt.database.db
      .update(schema.sessions)
      .set({ pullRequestUrl: PR, branch: "tandem/fix-login" })
      .where(eq(schema.sessions.id, id));
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, stack, stack.rt.ownerId, `/sessions/${id}`);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows the task's first line as the title, the repository, branch, status and pull request", async () => {
    await page.waitForSelector("[data-testid=session-title]");
    expect(await page.textContent("[data-testid=session-title]")).toBe("Fix the flaky login test");
    expect(await page.title()).toBe("Fix the flaky login test · Tandem");
    const head = (await page.textContent("header.session-head"))!;
    expect(head).toContain("acme/app");
    expect(head).toContain("tandem/fix-login");
    expect(await page.getAttribute("[data-testid=status]", "data-status")).toBe("queued");
    expect(await page.getAttribute("header [data-testid=session-pr]", "href")).toBe(PR);
    const check = await checkPage(page, "session-header");
    expect(check.violations).toEqual([]);
    expect(check.overflow).toEqual([]);
  });

  it("renames the session in place: Escape puts it back, Enter saves it for every page", async () => {
    await page.click("[data-testid=rename-session]");
    expect(await page.inputValue("[data-testid=title-input]")).toBe("Fix the flaky login test");
    await page.fill("[data-testid=title-input]", "Not this");
    await page.press("[data-testid=title-input]", "Escape");
    expect(await page.textContent("[data-testid=session-title]")).toBe("Fix the flaky login test");

    await page.click("[data-testid=rename-session]");
    await page.fill("[data-testid=title-input]", "  Login test: retry on a cold cache  ");
    await page.press("[data-testid=title-input]", "Enter");
    await page.waitForSelector(
      "[data-testid=session-title]:text-is('Login test: retry on a cold cache')",
    );
    expect(await page.isHidden("[data-testid=title-input]")).toBe(true);
    const api = await stack.owner.request("GET", `/api/sessions/${id}`);
    expect(api.body.title).toBe("Login test: retry on a cold cache");
    await page.reload();
    await page.waitForSelector(
      "[data-testid=session-title]:text-is('Login test: retry on a cold cache')",
    );
    await page.goto(`${stack.base}/`);
    await page.waitForSelector(
      `[data-testid=session-row][data-id='${id}'] >> text=Login test: retry on a cold cache`,
    );
  });

  it("tells a member who may not rename another's session why, and keeps the title", async () => {
    const member = await addMember(stack.rt.database.db, stack.rt.defaultOrgId, {
      email: "mo@example.test",
      role: "member",
    });
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const p = await ctx.newPage();
    try {
      await signIn(p, stack, member.userId, `/sessions/${id}`);
      await p.waitForSelector("[data-testid=session-title]");
      await p.click("[data-testid=rename-session]");
      await p.fill("[data-testid=title-input]", "Mine now");
      await p.press("[data-testid=title-input]", "Enter");
      const error = await p.waitForSelector("[data-testid=title-error]:not(:empty)");
      expect(await error.textContent()).toMatch(/\S/);
      expect(await p.textContent("[data-testid=session-title]")).toBe(
        "Login test: retry on a cold cache",
      );
    } finally {
      await ctx.close();
    }
  });
});
