import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandAdapter, issueToken } from "@tandem/core";
import { FakeLinear } from "../fixtures/fake-linear.ts";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { registerRepository, startGitServer, type TestGit } from "../helpers/e2e.ts";
import {
  agentSessionCreated,
  LINEAR_WEBHOOK_SECRET,
  ORG_ID,
  postLinear,
} from "../helpers/linear.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];

describe.skipIf(!chromiumAvailable())("Linear in the workbench, in headless Chromium", () => {
  let fake: FakeLinear;
  let git: TestGit;
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let issue: ReturnType<FakeLinear["addIssue"]>;

  beforeAll(async () => {
    fake = await new FakeLinear().listen();
    fake.addTeam({ key: "OPS", name: "Operations" });
    fake.addProject({ name: "Billing revamp" });
    git = await startGitServer(
      { username: "u", password: "p" },
      { "acme/app": { "README.md": "# app\n" }, "acme/api": { "README.md": "# api\n" } },
    );
    stack = await startStack(
      "postgres",
      {
        PUBLIC_URL: "self",
        LINEAR_API_URL: fake.url,
        LINEAR_API_KEY: "lin_api_test_key",
        LINEAR_WEBHOOK_SECRET,
        SANDBOX_PROVIDER: "local",
      },
      { agent: commandAdapter(AGENT) },
    );
    await registerRepository(stack, git, "acme/app");
    await registerRepository(stack, git, "acme/api");
    // The key's workspace is bound to the default org on its first webhook.
    issue = fake.addIssue({ title: "Bind the workspace" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    await postLinear(stack.base, agentSessionCreated({ agentSessionId, issue }));
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

  it("lists the connected workspace and its teams; picking a team's repository saves it", async () => {
    await until("the workspace row", async () =>
      Boolean(
        await stack.rt.database.db.query.installations.findFirst({
          where: (i, { eq }) => eq(i.externalId, ORG_ID),
        }),
      ),
    );
    await page.goto(`${stack.base}/settings`);
    const workspace = page.locator(`[data-testid=linear-workspace][data-workspace="${ORG_ID}"]`);
    await workspace.waitFor();
    expect(await workspace.textContent()).toContain("Tandem Test");
    expect(await workspace.textContent()).toContain("connected with LINEAR_API_KEY");
    // Its row among the providers says so; the ones this stack leaves out are only not configured.
    const row = page.locator("[data-testid=provider][data-provider=linear]");
    expect(await row.getAttribute("data-state")).toBe("connected");
    expect(await row.textContent()).toContain("Connected (1 installation)");
    expect(
      await page.locator("[data-testid=provider][data-provider=slack]").getAttribute("data-state"),
    ).toBe("not-configured");
    const select = page.locator("[data-testid=linear-team-repository][data-key=OPS]");
    expect(await select.locator("option").allTextContents()).toEqual([
      "none (ask, or the only one)",
      "acme/api",
      "acme/app",
    ]);
    await select.selectOption("acme/api");
    await until("the saved default", async () => {
      const { body } = await stack.owner.request("GET", "/api/linear");
      const ops = body.workspaces[0].teams.find((t: { key: string }) => t.key === "OPS");
      return ops?.repository === "acme/api";
    });
    const project = page.locator(
      "[data-testid=linear-project-repository][data-key='Billing revamp']",
    );
    expect(await project.inputValue()).toBe("");
    await project.selectOption("acme/app");
    await until("the saved project default", async () => {
      const { body } = await stack.owner.request("GET", "/api/linear");
      return body.workspaces[0].projects[0]?.repository === "acme/app";
    });
    await page.screenshot({ path: `${ARTIFACTS}/settings-linear.png`, fullPage: true });
    await page.reload();
    await select.waitFor();
    expect(await select.inputValue()).toBe("acme/api");
  });

  it("the sessions list and the session page link back to the Linear issue by its identifier", async () => {
    // The first webhook asked which repository (two, none named): this one names it.
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    await postLinear(
      stack.base,
      agentSessionCreated({ agentSessionId, issue, comment: { body: "@tandem look in acme/app" } }),
    );
    const session = await until("the Linear session", async () =>
      stack.rt.database.db.query.sessions.findFirst({
        where: (x, { eq }) => eq(x.source, "linear"),
      }),
    );
    await page.goto(`${stack.base}/`);
    const listed = page.locator(`[data-testid=session-origin][href="${issue.url}"]`).first();
    await listed.waitFor();
    expect(await listed.textContent()).toBe(`open ${issue.identifier} in Linear`);
    await page.goto(`${stack.base}/sessions/${session.id}`);
    const header = page.locator(`header [data-testid=session-origin]`);
    await header.waitFor();
    expect(await header.getAttribute("href")).toBe(issue.url);
    expect(await header.textContent()).toBe(`open ${issue.identifier} in Linear`);
    await page.screenshot({ path: `${ARTIFACTS}/session-linear-origin.png` });
  });
});
