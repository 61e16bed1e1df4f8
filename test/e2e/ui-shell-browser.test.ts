import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { addMember, issueToken } from "@tandem/core";
import { chromiumAvailable, launchBrowser, signIn } from "../helpers/browser.ts";
import { startGitServer, type TestGit } from "../helpers/e2e.ts";
import { checkPage } from "../helpers/screens.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

const skip = !chromiumAvailable();

/**
 * The pages around the session: sign-in, the owner's first page with what is still missing,
 * the Repositories page (add, test, edit, delete), the app bar and its theme, at both widths
 * and in both schemes with axe-core run on each.
 */
describe.skipIf(skip)("the workbench shell in headless Chromium", { timeout: 90_000 }, () => {
  let git: TestGit;
  let stack: Stack;
  let browser: Browser;
  let page: Page;

  const expectClean = (check: { violations: string[]; overflow: string[] }) => {
    expect(check.violations).toEqual([]);
    expect(check.overflow).toEqual([]);
  };

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "p" },
      { "acme/app": { "README.md": "# app\n" } },
    );
    // The docker provider (the default), so a file:// remote is refused; no worker: nothing starts here.
    stack = await startStack("postgres", { PUBLIC_URL: "self" }, { none: true });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await git?.close();
  });

  it("shows a styled sign-in page with the favicon, and sends a signed-out visitor there", async () => {
    await page.goto(`${stack.base}/repositories`);
    await page.waitForURL(/\/login\?next=%2Frepositories$/);
    await page.waitForSelector(".login-card >> text=Open the one-time login link");
    expect(await page.title()).toBe("Sign in · Tandem");
    const icon = await page.getAttribute("link[rel=icon]", "href");
    const res = await page.request.get(new URL(icon!, stack.base).toString());
    expect(res.headers()["content-type"]).toContain("image/svg+xml");
    expectClean(await checkPage(page, "login"));
  });

  it("answers a used login link with a styled page that says so, with a way on", async () => {
    const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const p = await ctx.newPage();
    try {
      const first = await p.request.get(`${stack.base}/login/${login.token}`, { maxRedirects: 0 });
      expect(first.status()).toBe(303);
      await p.context().clearCookies();
      const res = await p.goto(`${stack.base}/login/${login.token}`);
      expect(res!.status()).toBe(401);
      expect(await p.textContent(".login-card [data-testid=login-expired]")).toContain(
        "already used or has expired",
      );
      expect(await p.title()).toBe("This link no longer works · Tandem");
      expect(await p.getAttribute(".login-card a.button", "href")).toBe("/");
      expectClean(await checkPage(p, "error"));
    } finally {
      await ctx.close();
    }
  });

  it("walks the owner through what is missing, with the empty New session form linking to Repositories", async () => {
    await signIn(page, stack, stack.rt.ownerId);
    await page.waitForSelector("[data-testid=setup]");
    expect(await page.getAttribute("[data-testid=setup-repository]", "data-done")).toBe("false");
    expect(await page.getAttribute("[data-testid=setup-model]", "data-done")).toBe("false");
    expect(await page.textContent("[data-testid=setup-model]")).toContain("MODEL_UPSTREAM_API_KEY");
    expect(await page.getAttribute("[data-testid=setup-chat] a", "href")).toBe("/settings");
    expect(await page.isDisabled("[data-testid=start]")).toBe(true);
    expect(await page.getAttribute("[data-testid=add-repository-link]", "href")).toBe(
      "/repositories",
    );
    expect(await page.textContent("[data-testid=no-sessions]")).toContain("No sessions yet");
    expectClean(await checkPage(page, "sessions-empty"));
    await page.click("[data-testid=setup-repository] a");
    await page.waitForURL(/\/repositories$/);
  });

  it("adds a repository, refusing a file:// remote with what to use instead, tests its clone and shows git's whole error", async () => {
    await page.goto(`${stack.base}/repositories`);
    await page.waitForSelector("[data-testid=no-repositories]");
    expect(await page.getAttribute("[data-testid=repositories-link]", "aria-current")).toBe("page");
    const form = "[data-testid=add-repository]";
    await page.fill(`${form} input[name=name]`, "acme/local");
    await page.fill(`${form} input[name=cloneUrl]`, "file:///srv/git/acme/local.git");
    await page.click(`${form} button[type=submit]`);
    const refused = await page.waitForSelector(`${form} [data-testid=repository-error]`);
    expect(await refused.textContent()).toMatch(/Docker sandboxes cannot see.*http\(s\) or ssh/);

    await page.fill(`${form} input[name=name]`, "acme/app");
    await page.fill(`${form} input[name=cloneUrl]`, git.url("acme/app"));
    await page.fill(`${form} input[name=username]`, "u");
    await page.fill(`${form} input[name=password]`, "wrong");
    await page.click(`${form} button[type=submit]`);
    const row = "[data-testid=repository-row][data-name='acme/app']";
    await page.waitForSelector(row);
    expect(await page.textContent(row)).toContain("credential stored");
    // Saved: the form is empty again, and the password is never shown back.
    expect(await page.inputValue(`${form} input[name=name]`)).toBe("");
    expect(await page.inputValue(`${form} input[name=password]`)).toBe("");

    // The wrong password: the test shows everything git said, not only its last line.
    await page.click(`${row} [data-testid=test-repository]`);
    const failed = await page.waitForSelector(`${row} [data-testid=probe][data-ok=false]`);
    expect(await failed.textContent()).toMatch(/Authentication failed|401|could not read/i);
    expect(
      (await page.textContent(`${row} [data-testid=probe-error]`))!.split("\n").filter(Boolean)
        .length,
    ).toBeGreaterThan(0);

    // Edit: the right credential, then the test succeeds and names the head.
    await page.click(`${row} [data-testid=edit-repository-button]`);
    await page.fill(`${row} [data-testid=edit-repository] input[name=username]`, "u");
    await page.fill(`${row} [data-testid=edit-repository] input[name=password]`, "p");
    await page.click(`${row} [data-testid=edit-repository] button[type=submit]`);
    await page.waitForSelector(`${row} [data-testid=edit-repository]`, { state: "detached" });
    await page.click(`${row} [data-testid=test-repository]`);
    const ok = await page.waitForSelector(`${row} [data-testid=probe][data-ok=true]`);
    expect(await ok.textContent()).toMatch(/reachable.*default branch found/);
    expectClean(await checkPage(page, "repositories"));

    // The New session form now offers it, and the checklist counts it.
    await page.goto(`${stack.base}/`);
    await page.waitForSelector("[data-testid=repository] option:text-is('acme/app')", {
      state: "attached",
    });
    expect(await page.getAttribute("[data-testid=setup-repository]", "data-done")).toBe("true");
    expect(await page.isDisabled("[data-testid=start]")).toBe(false);
  });

  it("deletes a repository after confirming", async () => {
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/old",
      cloneUrl: "https://git.example.test/acme/old.git",
    });
    await page.goto(`${stack.base}/repositories`);
    const row = "[data-testid=repository-row][data-name='acme/old']";
    await page.waitForSelector(row);
    page.once("dialog", (d) => void d.accept());
    await page.click(`${row} [data-testid=delete-repository]`);
    await page.waitForSelector(row, { state: "detached" });
    const list = await stack.owner.request("GET", "/api/repositories");
    expect(
      (list.body as { repositories: Array<{ name: string }> }).repositories.map((r) => r.name),
    ).toEqual(["acme/app"]);
  });

  it("lists your API tokens in Settings, makes one shown once, and revokes one", async () => {
    await page.goto(`${stack.base}/settings`);
    const form = "[data-testid=create-token]";
    await page.waitForSelector(form);
    await page.fill(`${form} input[name=name]`, "deploy script");
    await page.selectOption(`${form} select[name=expiresInDays]`, "90");
    await page.click(`${form} button[type=submit]`);
    const value = (await (
      await page.waitForSelector("[data-testid=new-token-value]")
    ).textContent())!;
    expect(value).toMatch(/^tdm_/);
    const row = "[data-testid=api-token]:has-text('deploy script')";
    await page.waitForSelector(row);
    expect(await page.textContent(row)).toMatch(/expires .*never used/);
    // The token works, and its use shows after a reload; the page never shows it again.
    const me = await page.request.get(`${stack.base}/api/me`, {
      headers: { authorization: `Bearer ${value}` },
    });
    expect(me.status()).toBe(200);
    await page.reload();
    await page.waitForSelector(`${row} >> text=/last used/`);
    expect(await page.content()).not.toContain(value);

    page.once("dialog", (d) => void d.accept());
    await page.click(`${row} [data-testid=revoke-token]`);
    await page.waitForSelector(row, { state: "detached" });
    const after = await page.request.get(`${stack.base}/api/me`, {
      headers: { authorization: `Bearer ${value}` },
    });
    expect(after.status()).toBe(401);
  });

  it("keeps the theme chosen in the app bar across pages", async () => {
    await page.goto(`${stack.base}/repositories`);
    await page.waitForSelector("[data-testid=theme-toggle]");
    const bg = () =>
      page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    await page.emulateMedia({ colorScheme: "light" });
    const light = await bg();
    await page.click("[data-testid=theme-toggle]"); // system → light
    await page.click("[data-testid=theme-toggle]"); // light → dark
    expect(await page.getAttribute("html", "data-theme")).toBe("dark");
    expect(await bg()).not.toBe(light);
    await page.goto(`${stack.base}/`);
    await page.waitForSelector("[data-testid=theme-toggle]");
    expect(await page.getAttribute("html", "data-theme")).toBe("dark");
    expect(await bg()).not.toBe(light);
    await page.click("[data-testid=theme-toggle]"); // dark → system
    expect(await page.getAttribute("html", "data-theme")).toBeNull();
    await page.emulateMedia({ colorScheme: null });
  });

  it("shows a member neither the setup steps nor Settings, and no add form", async () => {
    const member = await addMember(stack.rt.database.db, stack.rt.defaultOrgId, {
      email: "mia@example.test",
      role: "member",
    });
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const p = await ctx.newPage();
    try {
      await signIn(p, stack, member.userId);
      await p.waitForSelector("[data-testid=sessions-link][aria-current=page]");
      await p.waitForSelector("[data-testid=repository] option:text-is('acme/app')", {
        state: "attached",
      });
      expect(await p.$("[data-testid=setup]")).toBeNull();
      expect(await p.$("[data-testid=settings-link]")).toBeNull();
      await p.goto(`${stack.base}/repositories`);
      await p.waitForSelector("[data-testid=repository-row]");
      expect(await p.$("[data-testid=add-repository]")).toBeNull();
      expect(await p.$("[data-testid=test-repository]")).toBeNull();
    } finally {
      await ctx.close();
    }
  });
});
