import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandAdapter, issueToken } from "@tandem/core";
import { FakeJira } from "../fixtures/fake-jira.ts";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { registerRepository, startGitServer, type TestGit } from "../helpers/e2e.ts";
import {
  AGENT_ACCOUNT_ID,
  commentCreated,
  JIRA_API_TOKEN,
  JIRA_EMAIL,
  JIRA_WEBHOOK_SECRET,
  postJira,
  wikiMention,
} from "../helpers/jira.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];

describe.skipIf(!chromiumAvailable())("Jira in the workbench, in headless Chromium", () => {
  let fake: FakeJira;
  let git: TestGit;
  let stack: Stack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    fake = await new FakeJira({ email: JIRA_EMAIL, apiToken: JIRA_API_TOKEN }).listen();
    fake.addProject("ENG", "Engineering");
    fake.addProject("OPS", "Operations");
    git = await startGitServer(
      { username: "u", password: "p" },
      { "acme/app": { "README.md": "# app\n" }, "acme/api": { "README.md": "# api\n" } },
    );
    stack = await startStack(
      "postgres",
      {
        PUBLIC_URL: "self",
        JIRA_BASE_URL: fake.url,
        JIRA_EMAIL,
        JIRA_API_TOKEN,
        JIRA_WEBHOOK_SECRET,
        SANDBOX_PROVIDER: "local",
      },
      { agent: commandAdapter(AGENT) },
    );
    await registerRepository(stack, git, "acme/app");
    await registerRepository(stack, git, "acme/api");
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    await page.goto(`${stack.base}/login/${login.token}`);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await git?.close();
    await fake?.close();
  });

  it("shows the site, the agent and the webhook to register; picking a project's repository saves it and is used", async () => {
    await page.goto(`${stack.base}/settings`);
    const site = page.locator("[data-testid=jira-site]");
    await site.waitFor();
    const text = (await site.textContent()) ?? "";
    expect(text).toContain(new URL(fake.url).host);
    expect(text).toContain(AGENT_ACCOUNT_ID);
    expect(await page.locator("[data-testid=jira-webhook-url]").textContent()).toBe(
      `${stack.base}/hooks/jira`,
    );
    const select = page.locator("[data-testid=jira-project-repository][data-key=OPS]");
    expect(await select.locator("option").allTextContents()).toEqual([
      "none (ask, or the only one)",
      "acme/api",
      "acme/app",
    ]);
    await select.selectOption("acme/api");
    await until("the saved default", async () => {
      const { body } = await stack.owner.request("GET", "/api/jira");
      return body.projects.find((p: { key: string }) => p.key === "OPS")?.repository === "acme/api";
    });
    await page.screenshot({ path: `${ARTIFACTS}/settings-jira.png`, fullPage: true });
    await page.reload();
    await select.waitFor();
    expect(await select.inputValue()).toBe("acme/api");

    // An OPS issue mentioning the agent works in the project's repository, and links back to the issue.
    const issue = fake.addIssue({ summary: "Rotate the logs", projectKey: "OPS" });
    await postJira(
      stack.base,
      commentCreated({
        site: fake.url,
        issue,
        body: `${wikiMention(AGENT_ACCOUNT_ID)} please write some notes`,
      }),
    );
    const session = await until("the Jira session", async () =>
      stack.rt.database.db.query.sessions.findFirst({
        where: (x, { eq }) => eq(x.source, "jira"),
      }),
    );
    const repo = await stack.rt.database.db.query.repositories.findFirst({
      where: (r, { eq }) => eq(r.id, session.repositoryId),
    });
    expect(repo?.name).toBe("acme/api");
    await page.goto(`${stack.base}/sessions/${session.id}`);
    const header = page.locator("header [data-testid=session-origin]");
    await header.waitFor();
    expect(await header.getAttribute("href")).toBe(`${fake.url}/browse/${issue.key}`);
    expect(await header.textContent()).toBe(`open ${issue.key} in Jira`);
  });
});
