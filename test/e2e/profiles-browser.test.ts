import { spawnSync } from "node:child_process";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { issueToken, schema } from "@tandem/core";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "../helpers/docker.ts";
import { registerRepository, startGitServer, type TestGit } from "../helpers/e2e.ts";
import { removeImages, snapshotImageRefs } from "../helpers/profiles.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable() || !chromiumAvailable();

/** The org's setup-test containers, running or not. */
const testContainers = (orgId: string) =>
  spawnSync(
    "docker",
    ["ps", "-aq", "--filter", `label=tandem.org=${orgId}`, "--filter", "label=tandem.setup_test"],
    { encoding: "utf8" },
  )
    .stdout.trim()
    .split("\n")
    .filter(Boolean);

describe.skipIf(skip)("the Profiles pages in headless Chromium", () => {
  let git: TestGit;
  let stack: Stack;
  let browser: Browser;
  let page: Page;

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
    // A profile that cannot start a session: never published.
    await stack.owner.request("POST", "/api/profiles", { name: "wip" });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    await page.goto(`${stack.base}/login/${login.token}`);
  }, 120_000);
  afterAll(async () => {
    const images = await snapshotImageRefs(stack);
    await browser?.close();
    await stack?.close();
    await git?.close();
    removeImages(images);
  });

  const draftSpec = async () =>
    (await stack.owner.request("GET", "/api/profiles/node")).body.draft.spec;

  it("lists the profiles from the header link and creates one", async () => {
    await page.click("[data-testid=profiles-link]");
    await page.waitForURL(/\/profiles$/);
    const row = await page.waitForSelector("[data-testid=profile-row][data-name=default]");
    expect(await row.$eval("[data-testid=profile-state]", (e) => e.textContent)).toBe("active");
    expect(await row.$eval("[data-testid=profile-in-use]", (e) => e.textContent)).toBe("v1");
    expect(await row.$eval("[data-testid=snapshot-status]", (e) => e.textContent)).toBe("ready");
    expect(await page.textContent("[data-testid=profile-row][data-name=wip]")).toContain(
      "profile wip has no published version yet",
    );
    await page.screenshot({ path: `${ARTIFACTS}/profiles-list.png` });
    await page.fill("[data-testid=new-profile-name]", "wip");
    await page.click("[data-testid=new-profile] button[type=submit]");
    await page.waitForSelector(
      "[data-testid=profiles-error]:has-text('sandbox profile wip already exists')",
    );
    await page.fill("[data-testid=new-profile-name]", "node");
    await page.click("[data-testid=new-profile] button[type=submit]");
    await page.waitForURL(/\/profiles\/node$/);
    await page.waitForSelector("[data-testid=spec-form]");
    expect(await page.isHidden("[data-testid=test-setup]")).toBe(true);
  }, 30_000);

  it("edits the draft in the form, shows the API's 400 and saves every field", async () => {
    expect(await page.inputValue("[data-testid=spec-agent-kind]")).toBe(""); // the configured AGENT
    await page.click("[data-testid=spec-advanced] summary"); // folded on a new profile
    await page.selectOption("[data-testid=spec-agent-kind]", "codex");
    await page.fill("[data-testid=spec-agent-model]", "test-model");
    await page.selectOption("[data-testid=spec-agent-effort]", "low");
    await page.selectOption("[data-testid=spec-repository-pick]", "acme/app");
    await page.check("[data-testid=spec-repository][data-name='acme/app'] input[type=radio]");
    await page.click("[data-testid=spec-env-add]");
    await page.fill("[data-testid=spec-env-name]", "1BAD");
    await page.fill("[data-testid=spec-env-value]", "profiles");
    await page.fill("[data-testid=spec-pids]", "512");
    await page.fill("[data-testid=spec-memory]", "1024");
    await page.fill("[data-testid=spec-idle]", "45");
    expect(await page.inputValue("[data-testid=spec-egress]")).toBe("none");
    expect(await page.isHidden("[data-testid=spec-allow]")).toBe(true);
    await page.selectOption("[data-testid=spec-egress]", "allowlist");
    await page.fill("[data-testid=spec-allow]", "registry.npmjs.org\n\n  *.pypi.org  ");
    await page.uncheck("[data-testid=spec-integration-discord]");
    await page.check("[data-testid=spec-persistent]");
    await page.fill("[data-testid=spec-persistent-paths]", "/workspace\n/home/agent");
    await page.click("[data-testid=save-draft]");
    await page.waitForSelector(
      "[data-testid=draft-error]:has-text('env names must be letters, digits and _')",
    );
    await page.fill("[data-testid=spec-env-name]", "GREETING");
    await page.click("[data-testid=save-draft]");
    await page.waitForSelector("[data-testid=draft-note]:has-text('Draft saved.')");
    expect(await draftSpec()).toEqual({
      agent: { kind: "codex", model: "test-model", reasoningEffort: "low" },
      repositories: [{ name: "acme/app", primary: true }],
      setupScript: "",
      env: { GREETING: "profiles" },
      limits: { pids: 512, memoryBytes: 1024 * 1024 ** 2 },
      network: { egress: "allowlist", allow: ["registry.npmjs.org", "*.pypi.org"] },
      idleMinutes: 45,
      integrations: ["slack", "github", "linear", "jira"],
      persistent: { enabled: true, paths: ["/workspace", "/home/agent"] },
    });
    // A reload shows what was saved; the repository comes out again before publishing (cloning is another step's test).
    await page.reload();
    expect(await page.inputValue("[data-testid=spec-env-value]")).toBe("profiles");
    expect(await page.inputValue("[data-testid=spec-egress]")).toBe("allowlist");
    expect(await page.inputValue("[data-testid=spec-allow]")).toBe(
      "registry.npmjs.org\n*.pypi.org",
    );
    expect(
      await page.isChecked("[data-testid=spec-repository][data-name='acme/app'] input[type=radio]"),
    ).toBe(true);
    await page.click("[data-testid=spec-repository][data-name='acme/app'] button");
    await page.uncheck("[data-testid=spec-persistent]");
    await page.fill("[data-testid=spec-persistent-paths]", "");
    await page.screenshot({ path: `${ARTIFACTS}/profile-draft.png`, fullPage: true });
  }, 30_000);

  it("tests the setup script: its output shows up while it runs, then the exit code", async () => {
    await page.fill(
      "[data-testid=spec-setup-script]",
      'echo "hello from $GREETING"; sleep 2; echo built > /home/agent/marker; echo second-line',
    );
    await page.waitForSelector("[data-testid=test-setup]:visible");
    await page.click("[data-testid=test-setup]");
    // Live: the first line is there while the script still sleeps.
    await page.waitForSelector("[data-testid=test-log]:has-text('hello from profiles')", {
      timeout: 30_000,
    });
    expect(await page.textContent("[data-testid=test-log]")).not.toContain("second-line");
    await page.screenshot({ path: `${ARTIFACTS}/profile-test-running.png`, fullPage: true });
    await page.waitForSelector("[data-testid=test-log][data-done=true]", { timeout: 30_000 });
    const log = await page.textContent("[data-testid=test-log]");
    expect(log).toContain("second-line\n");
    expect(log).toMatch(/\[setup script exited with 0\]\n$/);
    await page.screenshot({ path: `${ARTIFACTS}/profile-test-done.png`, fullPage: true });
    // Testing saved the draft first.
    expect((await draftSpec()).setupScript).toContain("hello from $GREETING");
    expect(testContainers(stack.rt.defaultOrgId)).toEqual([]);
  }, 60_000);

  it("stops a test mid-run, and its sandbox goes", async () => {
    const script = await page.inputValue("[data-testid=spec-setup-script]");
    await page.fill("[data-testid=spec-setup-script]", "echo waiting; sleep 300");
    await page.click("[data-testid=test-setup]");
    await page.waitForSelector("[data-testid=test-log]:has-text('waiting')", { timeout: 30_000 });
    expect(testContainers(stack.rt.defaultOrgId)).toHaveLength(1);
    await page.click("[data-testid=test-stop]");
    await page.waitForSelector("[data-testid=test-log][data-done=true]:has-text('[stopped]')");
    await until(
      "the test sandbox to be removed",
      async () => testContainers(stack.rt.defaultOrgId).length === 0,
      20_000,
    );
    await page.fill("[data-testid=spec-setup-script]", script);
  }, 60_000);

  it("publishes, and the snapshot's status and log follow the build until it is ready", async () => {
    await page.click("[data-testid=publish]");
    await page.waitForSelector("[data-testid=draft-note]:has-text('Published v1')");
    await page.waitForSelector("[data-testid=version][data-version='1']");
    await page.screenshot({ path: `${ARTIFACTS}/profile-publishing.png`, fullPage: true });
    await page.waitForSelector(
      "[data-testid=version][data-version='1'] [data-testid=snapshot-status]:has-text('ready')",
      { timeout: 120_000 },
    );
    expect(
      await page.textContent("[data-testid=version][data-version='1'] [data-testid=snapshot-log]"),
    ).toContain("second-line");
    expect(await page.textContent("[data-testid=profile-in-use]")).toBe("Sessions start on v1.");
    expect(await page.textContent("h2 >> nth=0")).toBe("Draft v2");
    await page.screenshot({ path: `${ARTIFACTS}/profile-published.png`, fullPage: true });
  }, 150_000);

  it("offers the ready profile in the New session form, the default first, and not the unready one", async () => {
    await page.click("[data-testid=start-on-profile]");
    await page.waitForSelector("[data-testid=profile] option[value=node]", { state: "attached" });
    expect(
      await page.$$eval("[data-testid=profile] option", (os) => os.map((o) => o.textContent)),
    ).toEqual(["default (v1)", "node (v1)"]);
    expect(await page.inputValue("[data-testid=profile]")).toBe("node");
    expect(await page.isHidden("[data-testid=profile-reason]")).toBe(true);
    // Made inactive after the form loaded: the API's 409 says why.
    await stack.rt.database.db
      .update(schema.sandboxProfiles)
      .set({ active: false })
      .where(eq(schema.sandboxProfiles.name, "node"));
    await page.selectOption("[data-testid=repository]", "acme/app");
    await page.fill("[data-testid=prompt]", "hello");
    await page.click("button[type=submit]");
    await page.waitForSelector(".new-session .error-box:has-text('profile node is inactive')");
    await stack.rt.database.db
      .update(schema.sandboxProfiles)
      .set({ active: true })
      .where(eq(schema.sandboxProfiles.name, "node"));
    await page.goto(`${stack.base}/`);
    await page.waitForSelector("[data-testid=profile] option[value=node]", { state: "attached" });
    expect(await page.inputValue("[data-testid=profile]")).toBe("default");
    await page.goto(`${stack.base}/?profile=wip`);
    await page.waitForSelector(
      "[data-testid=profile-reason]:has-text('profile wip has no published version yet')",
    );
    expect(await page.inputValue("[data-testid=profile]")).toBe("default");
    await page.screenshot({ path: `${ARTIFACTS}/profile-new-session.png` });
  }, 30_000);

  it("shows a member the profile read-only", async () => {
    const added = await stack.owner.request("POST", `/api/orgs/${stack.rt.defaultOrgId}/members`, {
      email: "member@example.test",
      role: "member",
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    try {
      const member = await context.newPage();
      await member.goto(added.body.loginUrl);
      await member.goto(`${stack.base}/profiles`);
      await member.waitForSelector("[data-testid=profile-row][data-name=node]");
      expect(await member.$("[data-testid=new-profile]")).toBeNull();
      await member.click("[data-testid=profile-row][data-name=node] a");
      await member.waitForSelector("[data-testid=spec-form]");
      expect(
        await member.$eval("[data-testid=spec-form]", (f) => (f as HTMLFieldSetElement).disabled),
      ).toBe(true);
      expect(await member.inputValue("[data-testid=spec-setup-script]")).toContain(
        "hello from $GREETING",
      );
      for (const button of ["save-draft", "publish", "test-setup", "refresh-snapshot"])
        expect(await member.$(`[data-testid=${button}]`)).toBeNull();
      expect(await member.isDisabled("[data-testid=profile-active]")).toBe(true);
      await member.waitForSelector(
        "[data-testid=version][data-version='1'] [data-testid=snapshot-status]:has-text('ready')",
      );
      await member.screenshot({ path: `${ARTIFACTS}/profile-member.png`, fullPage: true });
    } finally {
      await context.close();
    }
  }, 30_000);

  it("sets the refresh schedule, rebuilds the snapshot and deactivates the profile; a refused change shows the API's message", async () => {
    await page.goto(`${stack.base}/profiles/node`);
    await page.fill("[data-testid=profile-cron]", "every monday");
    await page.click("[data-testid=profile-cron-save]");
    await page.waitForSelector(
      "[data-testid=profile-settings-error]:has-text('refreshCron \"every monday\" must have 5 fields')",
    );
    await page.fill("[data-testid=profile-cron]", "0 4 * * 1");
    await page.click("[data-testid=profile-cron-save]");
    await until(
      "the schedule to be saved",
      async () =>
        (await stack.owner.request("GET", "/api/profiles/node")).body.refreshCron === "0 4 * * 1",
      10_000,
    );
    expect(await page.textContent("[data-testid=profile-settings-error]")).toBe("");

    const before = (await stack.owner.request("GET", "/api/profiles/node")).body.published[0]
      .snapshot.id;
    await page.click("[data-testid=refresh-snapshot]");
    // The click built a new snapshot of v1 (the page shows the old one as ready until it reloads, so the API is asked).
    const after = await until(
      "a second snapshot of v1, ready",
      async () => {
        const snapshot = (await stack.owner.request("GET", "/api/profiles/node")).body.published[0]
          .snapshot;
        return snapshot.id !== before && snapshot.status === "ready" ? snapshot : null;
      },
      120_000,
    );
    expect(after.trigger).toBe("refresh");
    await page.waitForSelector(
      "[data-testid=version][data-version='1'] [data-testid=snapshot-status]:has-text('ready')",
      { timeout: 10_000 },
    );

    await page.uncheck("[data-testid=profile-active]");
    await page.waitForSelector("[data-testid=profile-summary]:has-text('Inactive.')");
    expect((await stack.owner.request("GET", "/api/profiles/node")).body.active).toBe(false);
    await page.screenshot({ path: `${ARTIFACTS}/profile-inactive.png`, fullPage: true });
    await page.goto(`${stack.base}/?profile=node`);
    await page.waitForSelector("[data-testid=profile-reason]:has-text('profile node is inactive')");
    expect(
      await page.$$eval("[data-testid=profile] option", (os) =>
        os.map((o) => (o as HTMLOptionElement).value),
      ),
    ).toEqual(["default"]);
  }, 150_000);

  it("picks the profile's primary repository in the New session form along with the profile", async () => {
    await git.createRepo("acme/lib", { "README.md": "# lib\n" });
    await registerRepository(stack, git, "acme/lib");
    await stack.owner.request("POST", "/api/profiles", { name: "mono" });
    await stack.owner.request("PUT", "/api/profiles/mono/draft", {
      spec: { repositories: [{ name: "acme/lib", primary: true }] },
    });
    await stack.owner.request("POST", "/api/profiles/mono/publish");
    await until(
      "the mono snapshot",
      async () => (await stack.owner.request("GET", "/api/profiles/mono")).body.inUse === 1,
      90_000,
    );

    await page.goto(`${stack.base}/?profile=mono`);
    await page.waitForSelector("[data-testid=profile] option[value=mono]", { state: "attached" });
    expect(await page.inputValue("[data-testid=profile]")).toBe("mono");
    expect(await page.inputValue("[data-testid=repository]")).toBe("acme/lib");
    await page.selectOption("[data-testid=profile]", "default");
    await page.selectOption("[data-testid=repository]", "acme/app");
    await page.selectOption("[data-testid=profile]", "mono");
    expect(await page.inputValue("[data-testid=repository]")).toBe("acme/lib");
  }, 120_000);

  it("deletes a profile from its page after asking, and shows why the default one stays", async () => {
    await stack.owner.request("POST", "/api/profiles", { name: "scratch" });
    page.on("dialog", (dialog) => void dialog.accept());
    await page.goto(`${stack.base}/profiles/default`);
    await page.click("[data-testid=delete-profile]");
    await page.waitForSelector(
      "[data-testid=profile-settings-error]:has-text('the default profile cannot be deleted')",
    );
    await page.goto(`${stack.base}/profiles/scratch`);
    await page.click("[data-testid=delete-profile]");
    await page.waitForURL(/\/profiles$/);
    await page.waitForSelector("[data-testid=profile-row][data-name=default]");
    expect(await page.$("[data-testid=profile-row][data-name=scratch]")).toBeNull();
    expect((await stack.owner.request("GET", "/api/profiles/scratch")).status).toBe(404);
  }, 60_000);
});
