import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { addMember } from "@tandem/core";
import { ARTIFACTS, chromiumAvailable, launchBrowser, signIn } from "../helpers/browser.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "../helpers/docker.ts";
import { registerRepository, startGitServer, type TestGit } from "../helpers/e2e.ts";
import { removeImages, snapshotImageRefs } from "../helpers/profiles.ts";
import { checkPage } from "../helpers/screens.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable() || !chromiumAvailable();

/**
 * The Profiles list, a profile's page (sections, defaults, the draft's diff, Publish, the snapshot
 * building live) and Settings (members, tokens, repositories, providers, limits), at both widths
 * and in both schemes with axe-core run on each.
 */
describe.skipIf(skip)("Profiles and Settings in headless Chromium", { timeout: 90_000 }, () => {
  let git: TestGit;
  let stack: Stack;
  let browser: Browser;
  let page: Page;

  const top = () => page.evaluate(() => window.scrollTo(0, 0));
  const expectClean = (check: { violations: string[]; overflow: string[] }) => {
    expect(check.violations).toEqual([]);
    expect(check.overflow).toEqual([]);
  };

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "p" },
      { "acme/app": { "README.md": "# app\n" } },
    );
    stack = await startStack("postgres", {
      PUBLIC_URL: "self",
      SANDBOX_PROVIDER: "docker",
      SANDBOX_IMAGE,
    });
    await registerRepository(stack, git, "acme/app");
    await addMember(stack.rt.database.db, stack.rt.defaultOrgId, {
      email: "mia@example.test",
      name: "Mia",
      role: "member",
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, stack, stack.rt.ownerId);
  }, 120_000);
  afterAll(async () => {
    const images = stack ? await snapshotImageRefs(stack) : [];
    await browser?.close();
    await stack?.close();
    await git?.close();
    removeImages(images);
  });

  it("lists the profiles", async () => {
    await stack.owner.request("POST", "/api/profiles", { name: "web" });
    await page.goto(`${stack.base}/profiles`);
    await page.waitForSelector("[data-testid=profile-row][data-name=web]");
    expectClean(await checkPage(page, "profiles"));
  });

  it("shows the draft in sections with Advanced folded, the real defaults, and Publish as the primary action", async () => {
    await page.goto(`${stack.base}/profiles/web`);
    await page.waitForSelector("[data-testid=spec-form]");
    const sections = await page.$$eval("[data-testid=spec-form] .spec-section h3", (hs) =>
      hs.map((x) => x.textContent),
    );
    expect(sections).toEqual(["Basics", "Environment", "Network", "Resources", "Advanced"]);
    expect(await page.inputValue("[data-testid=spec-name]")).toBe("web");
    expect(
      await page.$eval("[data-testid=spec-advanced]", (d) => (d as HTMLDetailsElement).open),
    ).toBe(false);
    expect(await page.isVisible("[data-testid=spec-agent-model]")).toBe(false);
    // Defaults as values, not variable names.
    const form = (await page.textContent("[data-testid=spec-form]"))!;
    expect(form).toContain(`default: ${SANDBOX_IMAGE}`);
    expect(form).toContain("default: 2 CPUs");
    expect(form).toContain("default: 4 GiB");
    expect(form).toContain("default: 1024");
    expect(form).toContain("default: no cap");
    expect(form).not.toMatch(/SANDBOX_IMAGE|SANDBOX_IDLE_MINUTES|AGENT_MODEL|\(AGENT\)/);
    expect(await page.getAttribute("[data-testid=spec-cpus]", "placeholder")).toBe("default");
    // Reached and opened from the keyboard: Tab from the last Resources field, then Enter.
    await page.focus("[data-testid=spec-disk]");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Advanced");
    await page.keyboard.press("Enter");
    expect(await page.isVisible("[data-testid=spec-agent-model]")).toBe(true);
    expect(await page.textContent("[data-testid=spec-advanced]")).toContain(
      `default: ${stack.rt.config.AGENT_MODEL}`,
    );
    expect(await page.textContent("[data-testid=spec-agent-kind] option[value='']")).toBe(
      `default (${stack.rt.config.AGENT})`,
    );
    expect(await page.textContent("[data-testid=spec-advanced]")).toContain(
      `default: ${stack.rt.config.SANDBOX_IDLE_MINUTES} minutes`,
    );
    // Publish is the one primary button; the others are secondary.
    expect(await page.getAttribute("[data-testid=publish]", "class")).toBe("primary");
    expect(await page.$$eval("[data-testid=draft] button.primary", (bs) => bs.length)).toBe(1);
    expect(await page.getAttribute("[data-testid=save-draft]", "class")).toBeNull();
    expect(await page.getAttribute("[data-testid=snapshot-live]", "data-status")).toBe("none");
    expect(await page.textContent("[data-testid=draft-diff]")).toContain("Not published yet");
    await page.click("[data-testid=spec-advanced] summary");
    expectClean(await checkPage(page, "profile", top));
  });

  it("publishes and follows the snapshot live, then shows what an edit changes from v1", async () => {
    await page.fill("[data-testid=spec-description]", "The web app, with its packages");
    await page.fill("[data-testid=spec-setup-script]", "echo building; sleep 3; echo built");
    await page.fill("[data-testid=spec-cpus]", "1");
    // A mark on the window: it is still there at the end, so nothing reloaded the page.
    await page.evaluate(() => ((window as unknown as { mark: number }).mark = 1));
    await page.click("[data-testid=publish]");
    await page.waitForSelector("[data-testid=draft-note]:has-text('Published v1')");
    const seen = new Set<string>();
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const status = await page.getAttribute("[data-testid=snapshot-live]", "data-status");
      if (status) seen.add(status);
      if (status === "ready" || status === "failed") break;
      await page.waitForTimeout(200);
    }
    expect(await page.getAttribute("[data-testid=snapshot-live]", "data-status")).toBe("ready");
    // It was building first, and the page followed it there by itself.
    expect([...seen].some((s) => s === "queued" || s === "running")).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { mark?: number }).mark)).toBe(1);
    expect(await page.textContent("[data-testid=snapshot-live]")).toContain("Snapshot of v1");
    expect(await page.textContent("[data-testid=profile-description]")).toBe(
      "The web app, with its packages",
    );
    await page.click("[data-testid=snapshot-live-log]");
    expect(
      await page.$eval("#v1-log", (d) => (d as HTMLDetailsElement).open && d.textContent),
    ).toContain("built");
    expect(await page.textContent("[data-testid=draft-diff]")).toContain(
      "The draft is the same as v1",
    );

    // An edit shows up in the diff at once, field by field, and the script as lines.
    await page.fill("[data-testid=spec-cpus]", "");
    await page.fill("[data-testid=spec-setup-script]", "echo building; sleep 3; echo built twice");
    await page.selectOption("[data-testid=spec-egress]", "open");
    const changes = await page.$$eval("[data-testid=draft-change]", (cs) =>
      cs.map((c) => [
        (c as HTMLElement).dataset.field,
        ...[...c.querySelectorAll(".change > code, .change > em, pre")].map((v) => v.textContent),
      ]),
    );
    expect(changes).toEqual([
      [
        "Setup script",
        "- echo building; sleep 3; echo built\n+ echo building; sleep 3; echo built twice\n",
      ],
      ["Egress", "none", "open"],
      ["CPUs", "1", "default"],
    ]);
    expect(await page.textContent("[data-testid=draft-diff] h3")).toBe("Changes from v1");
    await page.locator("[data-testid=draft-diff]").scrollIntoViewIfNeeded();
    expectClean(await checkPage(page, "profile-draft-diff"));
    await page.screenshot({ path: `${ARTIFACTS}/profile-sections.png`, fullPage: true });
  }, 150_000);

  it("shows Settings: members with roles, tokens, repositories, providers not configured (not as errors) and the org's limits", async () => {
    await page.goto(`${stack.base}/settings`);
    const members = page.locator("[data-testid=member]");
    await members.first().waitFor();
    const rows = await members.evaluateAll((ms) =>
      ms.map((m) => [
        m.querySelector("[data-testid=member-name]")?.textContent,
        m.querySelector("[data-testid=member-role]")?.textContent,
      ]),
    );
    expect(rows).toContainEqual(["Mia", "member"]);
    expect(rows.map((r) => r[1])).toContain("owner");
    expect(await page.textContent("[data-testid=settings-repositories]")).toContain("1 repository");
    expect(await page.getAttribute("[data-testid=settings-repositories] a", "href")).toBe(
      "/repositories",
    );
    const providers = page.locator("[data-testid=provider]");
    await providers.first().waitFor();
    expect(
      await providers.evaluateAll((ps) =>
        ps.map((p) => [(p as HTMLElement).dataset.provider, (p as HTMLElement).dataset.state]),
      ),
    ).toEqual([
      ["slack", "not-configured"],
      ["github", "not-configured"],
      ["linear", "not-configured"],
      ["jira", "not-configured"],
      ["discord", "not-configured"],
    ]);
    expect(await page.textContent("[data-testid=providers]")).toContain("Not configured");
    // Limits: the org's and the instance's per-sandbox defaults.
    const limits = (await page.textContent("[data-testid=org-limits]"))!;
    expect(limits).toContain("4 sessions at once");
    expect(limits).toContain("unlimited");
    expect(limits).toContain("2 CPUs");
    expect(limits).toContain("4 GiB");
    expect(await page.isChecked("[data-testid=allow-persistent]")).toBe(false);
    // Admins change the org's limits; an empty budget is unlimited.
    await page.click("[data-testid=org-limits-section] summary");
    await page.fill("[data-testid=limits-form] input[name=concurrencyLimit]", "2");
    await page.fill("[data-testid=limits-form] input[name=sessionTokenBudget]", "200000");
    await page.click("[data-testid=save-limits]");
    await page.waitForSelector("[data-testid=org-limits]:has-text('2 sessions at once')");
    expect(await page.textContent("[data-testid=org-limits]")).toContain("200,000 tokens");
    expect(
      (await stack.owner.request("GET", `/api/orgs/${stack.rt.defaultOrgId}/settings`)).body,
    ).toMatchObject({ concurrencyLimit: 2, sessionTokenBudget: 200_000, monthlyTokenBudget: null });
    await page.click("[data-testid=org-limits-section] summary");
    await page.waitForSelector("[data-testid=api-tokens] [data-testid=api-token]");
    expect(await page.textContent("[data-testid=api-tokens]")).toContain("Authorization: Bearer");
    // Nothing unconfigured is an error.
    await page.waitForLoadState("networkidle");
    expect(
      await page.$$eval(".error:not(:empty), .error-box, [role=alert]", (es) => es.length),
    ).toBe(0);
    expectClean(await checkPage(page, "settings", top));
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${ARTIFACTS}/settings-narrow.png`, fullPage: true });
    await page.setViewportSize({ width: 1440, height: 900 });
  });
});
