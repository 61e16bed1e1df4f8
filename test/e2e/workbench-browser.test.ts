import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { eq } from "drizzle-orm";
import { execCollect, issueToken, schema } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { otherOrganization } from "../helpers/api.ts";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { freePort, startStack, until, type Stack } from "../helpers/stack.ts";
import { FakeGitHub } from "../fixtures/fake-github.ts";
import { appKeys, githubAppEnv, installationCreated, postGitHub } from "../helpers/github.ts";
import { startFakeGitHubApp } from "../helpers/github-app.ts";

const skip = !dockerAvailable() || !chromiumAvailable();

/** What an xterm.js pane shows, read from its buffer (see web/ui/src/terminal.ts). */
const screen = (page: Page, selector: string) =>
  page.$eval(
    selector,
    (el) => (el as HTMLElement & { readScreen?: () => string }).readScreen?.() ?? "",
  );

async function screenUntil(
  page: Page,
  selector: string,
  what: RegExp,
  timeoutMs = 20_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await screen(page, selector);
    if (what.test(text)) return text;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} on ${selector}:\n${text}`);
    await page.waitForTimeout(200);
  }
}

describe.skipIf(skip)("the workbench in headless Chromium", () => {
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let id: string;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "p" },
      { "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" } },
    );
    model = await new ModelServer([
      { shell: "echo hello-from-agent" },
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: "Updated hello.txt." },
      // The review comment's turn ends with a question; the answer's turn and the attachment's do not.
      { message: "Should I also greet the moon?" },
      { message: "Done: the moon is greeted." },
      { message: "Read the notes." },
    ]).listen();
    stack = await startStack("postgres", {
      PUBLIC_URL: "self",
      ...dockerModelEnv(model, "k"),
      // GitHub configured (never called here) so a session bound to an issue links back to it.
      ...githubAppEnv("http://127.0.0.1:9", appKeys().privateKey),
    });
    await registerRepository(stack, git, "acme/app");
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await model?.close();
    await git?.close();
  });

  it("signs in with the owner link and starts a session from the form; the agent's work appears live", async () => {
    const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    await page.goto(`${stack.base}/login/${login.token}`);
    await page.waitForSelector("[data-testid=repository] option:text-is('acme/app')", {
      state: "attached",
    });
    await page.selectOption("[data-testid=repository]", "acme/app");
    expect(
      await page.$$eval("[data-testid=profile] option", (os) => os.map((o) => o.textContent)),
    ).toEqual(["default (v1)"]);
    await page.fill("[data-testid=prompt]", "Update hello.txt");
    await page.click("button[type=submit]");
    await page.waitForURL(/\/sessions\/[0-9a-f-]{36}$/);
    id = page.url().split("/").at(-1)!;
    await page.waitForSelector("[data-testid=timeline] .ev.command >> text=echo hello-from-agent", {
      timeout: 90_000,
    });
    await page.waitForSelector("[data-testid=timeline] .ev.file >> text=hello.txt", {
      timeout: 90_000,
    });
    await page.waitForSelector("[data-testid=status][data-status=idle]", { timeout: 90_000 });
    await page.click("[data-testid=timeline] .ev.command summary");
    expect(await page.textContent("[data-testid=timeline] .ev.command pre")).toContain(
      "hello-from-agent",
    );
    await page.screenshot({ path: `${ARTIFACTS}/workbench-timeline.png` });
  }, 120_000);

  it("runs echo hi in a terminal tab", async () => {
    await page.click("[data-testid=new-terminal]");
    await page.waitForSelector("[data-testid=terminal-1][data-connected=true]");
    await screenUntil(page, "[data-testid=terminal-1]", /\$ $/m);
    await page.click("[data-testid=terminal-1]");
    await page.keyboard.type("echo hi\n");
    const text = await screenUntil(page, "[data-testid=terminal-1]", /^hi$/m);
    expect(text).toContain("echo hi");
    await page.screenshot({ path: `${ARTIFACTS}/workbench-terminal.png` });
  }, 60_000);

  it("a terminal refused for its origin says why in the panel", async () => {
    // The same Tandem opened by another name: PUBLIC_URL is 127.0.0.1, this page is localhost.
    const other = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
        userId: stack.rt.ownerId,
        kind: "login",
        ttlMs: 60_000,
      });
      const localhost = stack.base.replace("127.0.0.1", "localhost");
      await other.goto(`${localhost}/login/${login.token}`);
      await other.goto(`${localhost}/sessions/${id}`);
      await other.click("[data-testid=new-terminal]");
      const refused = await other.waitForSelector("[data-testid=terminal-1][data-refused]");
      expect(await refused.getAttribute("data-refused")).toBe(
        `WebSocket connections must come from ${stack.base} (PUBLIC_URL), and this page is ${localhost}: open Tandem at ${stack.base}, or set PUBLIC_URL to the address you use`,
      );
      expect(
        await screenUntil(other, "[data-testid=terminal-1]", /disconnected: WebSocket/),
      ).toContain("must come from");
    } finally {
      await other.close();
    }
  }, 60_000);

  it("shows the agent's own screen in the TUI", async () => {
    await page.click("[data-testid=tui-toggle]");
    await screenUntil(page, "[data-testid=tui]", /Updated hello\.txt|Update hello\.txt/, 30_000);
    await page.screenshot({ path: `${ARTIFACTS}/workbench-tui.png` });
    await page.click("[data-testid=tui-toggle]");
  }, 60_000);

  it("shows the edited file with its counts in Changes", async () => {
    await page.click("[data-testid=changes-tab]");
    const item = await page.waitForSelector("[data-testid=changes] li[data-path='hello.txt']");
    expect(await item.textContent()).toContain("+1");
    expect(await item.textContent()).toContain("−1");
    expect(await page.textContent("[data-testid=changes] .d2h-wrapper")).toContain("hello, world");
    await page.screenshot({ path: `${ARTIFACTS}/workbench-changes.png` });
  }, 30_000);

  it("opens a server started in the terminal through Processes", async () => {
    const port = await freePort();
    await page.click("[data-testid=terminal-tab-1]");
    await page.click("[data-testid=terminal-1]");
    await page.keyboard.type(
      `node -e 'require("http").createServer((q,s)=>s.end("served from the sandbox "+q.url)).listen(${port},"127.0.0.1",()=>console.log("listening-"+${port}))' &\n`,
    );
    await screenUntil(page, "[data-testid=terminal-1]", new RegExp(`listening-${port}`));
    await page.click("[data-testid=processes-tab]");
    const link = await page.waitForSelector(`[data-testid=processes] a[data-port='${port}']`);
    // The process behind the port: its pid and command line.
    const row = await link.evaluateHandle((a) => a.closest("li")!);
    expect(await row.$eval("[data-testid=process-pid]", (e) => e.textContent)).toMatch(/pid \d+/);
    expect(await row.$eval("[data-testid=process-command]", (e) => e.textContent)).toContain(
      `node -e require("http").createServer(`,
    );
    // A server started while the panel is open appears without a click.
    const later = await freePort();
    const sandbox = await sandboxOf(stack, id);
    await execCollect(stack.sandboxes, sandbox!.externalId!, [
      "sh",
      "-c",
      `setsid node -e 'require("http").createServer((q,s)=>s.end("x")).listen(${later},"127.0.0.1")' >/dev/null 2>&1 < /dev/null &`,
    ]);
    await page.waitForSelector(`[data-testid=processes] a[data-port='${later}']`, {
      timeout: 10_000,
    });
    await page.screenshot({ path: `${ARTIFACTS}/workbench-processes.png` });
    const [opened] = await Promise.all([
      page.context().waitForEvent("page"),
      page.locator(`[data-testid=processes] a[data-port="${port}"]`).click(),
    ]);
    await opened.waitForLoadState();
    // On the port's own origin, not Tandem's.
    expect(new URL(opened.url()).host).toMatch(new RegExp(`^${port}-${id}\\.localhost:\\d+$`));
    expect(await opened.textContent("body")).toBe("served from the sandbox /");
    await opened.screenshot({ path: `${ARTIFACTS}/workbench-port.png` });
    await opened.close();
  }, 60_000);

  it("sends a review comment on a diff line to the agent", async () => {
    await page.click("[data-testid=changes-tab]");
    await page.click(
      "[data-testid=changes] .file-diff[data-path='hello.txt'] tr:has-text('hello, world') .d2h-code-line",
    );
    await page.fill("[data-testid=review-text]", "Please also greet the moon");
    await page.screenshot({ path: `${ARTIFACTS}/workbench-review-comment.png` });
    await page.click("[data-testid=review-send]", { timeout: 10_000 });
    await page.waitForSelector("[data-testid=review-sent]");
    await page.waitForSelector(
      "[data-testid=timeline] .ev.message.user >> text=Review comment on hello.txt:1: Please also greet the moon",
    );
  }, 30_000);

  it("highlights the agent's closing question and sends the answer", async () => {
    const question = await page.waitForSelector("[data-testid=timeline] .ev.question", {
      timeout: 90_000,
    });
    expect(await question.textContent()).toContain("Should I also greet the moon?");
    await page.screenshot({ path: `${ARTIFACTS}/workbench-question.png` });
    await page.fill("[data-testid=answer-text]", "Yes, please");
    await page.click("[data-testid=answer] button[type=submit]");
    await page.waitForSelector("[data-testid=timeline] .ev.message.user >> text=Yes, please");
    await page.waitForSelector(
      "[data-testid=timeline] .ev.message.assistant >> text=Done: the moon is greeted.",
      { timeout: 90_000 },
    );
    await page.waitForSelector("[data-testid=status][data-status=idle]", { timeout: 90_000 });
    expect(await page.$("[data-testid=timeline] .ev.question")).toBeNull();
  }, 120_000);

  it("attaches a file to a follow-up: uploaded into the checkout, named in the message", async () => {
    await page.setInputFiles("[data-testid=attach-input]", {
      name: "notes.txt",
      mimeType: "text/plain",
      buffer: Buffer.from("remember the moon\n"),
    });
    await page.waitForSelector("[data-testid=attachments] >> text=notes.txt");
    await page.fill("[data-testid=follow-up]", "See my notes");
    await page.click("[data-testid=send]");
    const sent = await page.waitForSelector(
      "[data-testid=timeline] .ev.message.user >> text=.tandem/attachments/notes.txt",
    );
    expect(await sent.textContent()).toContain("See my notes");
    const row = await sandboxOf(stack, id);
    const inside = await execCollect(stack.sandboxes, row!.externalId!, [
      "cat",
      "/workspace/acme/app/.tandem/attachments/notes.txt",
    ]);
    expect(inside.stdout).toBe("remember the moon\n");
    await page.waitForSelector(
      "[data-testid=timeline] .ev.message.assistant >> text=Read the notes.",
      { timeout: 90_000 },
    );
    await page.waitForSelector("[data-testid=status][data-status=idle]", { timeout: 90_000 });
  }, 120_000);

  it("switches Changes to side by side and back, remembers the choice, and comments from either side", async () => {
    await page.click("[data-testid=changes-tab]");
    await page.waitForSelector("[data-testid=diff][data-layout=line-by-line] .d2h-file-diff");
    expect(await page.$("[data-testid=changes] .d2h-file-side-diff")).toBeNull();
    await page.click("[data-testid=diff-layout]");
    await page.waitForSelector("[data-testid=diff][data-layout=side-by-side]");
    expect(
      await page.$$("[data-testid=changes] .file-diff[data-path='hello.txt'] .d2h-file-side-diff"),
    ).toHaveLength(2);
    await page.click(
      "[data-testid=changes] .d2h-file-side-diff:nth-child(2) tr:has-text('hello, world') .d2h-code-side-line",
    );
    expect(await page.getAttribute("[data-testid=review-text]", "placeholder")).toContain(
      "hello.txt:1 ",
    );
    expect(
      await page.$("[data-testid=changes] .d2h-file-side-diff:nth-child(1) tr.review.spacer"),
    ).not.toBeNull();
    await page.screenshot({ path: `${ARTIFACTS}/workbench-changes-side-by-side.png` });
    await page.click("[data-testid=changes] tr.review button[type=button]");
    expect(await page.$("[data-testid=changes] tr.review")).toBeNull();
    await page.click(
      "[data-testid=changes] .d2h-file-side-diff:nth-child(1) tr:has-text('hello') .d2h-code-side-line",
    );
    expect(await page.getAttribute("[data-testid=review-text]", "placeholder")).toContain(
      "hello.txt:1 ",
    );
    await page.reload();
    await page.click("[data-testid=changes-tab]");
    await page.waitForSelector("[data-testid=diff][data-layout=side-by-side] .d2h-file-side-diff");
    await page.click("[data-testid=diff-layout]");
    await page.waitForSelector("[data-testid=diff][data-layout=line-by-line] .d2h-file-diff");
    expect(await page.$("[data-testid=changes] .d2h-file-side-diff")).toBeNull();
    expect(await page.evaluate(() => localStorage.getItem("tandem.diffLayout"))).toBe(
      "line-by-line",
    );
  }, 60_000);

  it("gives a signed-in user of another org 404 on the page and no WebSocket", async () => {
    const other = await otherOrganization(stack.rt);
    const { token } = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: other.userId,
      kind: "browser",
      ttlMs: 60_000,
    });
    const context = await browser.newContext();
    await context.addCookies([{ name: "tandem_session", value: token, url: stack.base }]);
    const mallory = await context.newPage();
    const res = await mallory.goto(`${stack.base}/sessions/${id}`);
    expect(res!.status()).toBe(404);
    // In the workbench's own frame, saying what may be wrong, and not a word of the session.
    expect(await mallory.textContent(".login-card [data-testid=not-found]")).toContain(
      "belongs to an organization you are not a member of",
    );
    expect(await mallory.title()).toBe("Not found · Tandem");
    await mallory.goto(`${stack.base}/`);
    const opened = await mallory.evaluate(
      (sessionId) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(`ws://${location.host}/api/sessions/${sessionId}/terminal`);
          ws.onopen = () => resolve("open");
          ws.onclose = () => resolve("refused");
        }),
      id,
    );
    expect(opened).toBe("refused");
    await mallory.screenshot({ path: `${ARTIFACTS}/workbench-other-org.png` });
    await context.close();
  }, 30_000);

  it("shows the repository-bound controls as unavailable, with the reason, once the sandbox is stopped", async () => {
    const row = await sandboxOf(stack, id);
    await stack.sandboxes.stop(row!.externalId!);
    await page.reload();
    const notice = await page.waitForSelector("[data-testid=sandbox-unavailable]:not([hidden])");
    expect(await notice.textContent()).toContain("sandbox is stopped; send a message to wake it");
    for (const control of ["new-terminal", "changes-tab", "processes-tab", "tui-toggle"]) {
      expect(await page.isDisabled(`[data-testid=${control}]`), control).toBe(true);
    }
    expect(await page.$("[data-testid=repository-select]")).toBeNull();
    await page.screenshot({ path: `${ARTIFACTS}/workbench-sandbox-stopped.png` });
  }, 30_000);
  it("lists the session with its status, source, repository, who started it, when, and the link back to its thread", async () => {
    await stack.rt.database.db
      .insert(schema.sessionBindings)
      .values({ sessionId: id, provider: "github", threadKey: "acme/app#7" });
    const api = (await stack.owner.request("GET", `/api/sessions/${id}`)).body;
    expect(api.origin).toEqual({ provider: "github", url: "https://github.com/acme/app/issues/7" });
    await page.goto(`${stack.base}/`);
    const row = `[data-testid=session-row][data-id='${id}']`;
    await page.waitForSelector(row);
    expect(await page.textContent(`${row} [data-testid=session-status]`)).toBe(api.status);
    expect(await page.textContent(`${row} [data-testid=session-source]`)).toBe("Workbench");
    expect(await page.textContent(row)).toContain("acme/app");
    expect(await page.textContent(`${row} [data-testid=session-by]`)).toContain(api.createdBy.name);
    expect(await page.getAttribute(`${row} time`, "datetime")).toBe(api.createdAt);
    expect(await page.getAttribute(`${row} [data-testid=session-origin]`, "href")).toBe(
      api.origin.url,
    );
    await page.screenshot({ path: `${ARTIFACTS}/workbench-sessions-list.png` });
  }, 30_000);

  it("after Stop every control says so at once, with the reason", async () => {
    await page.goto(`${stack.base}/sessions/${id}`);
    await page.waitForSelector("[data-testid=stop]:not([disabled])");
    await page.click("[data-testid=stop]");
    const ended = await page.waitForSelector("[data-testid=session-ended]:not([hidden])");
    expect(await ended.textContent()).toContain("This session was stopped: stopped by user.");
    expect(await page.textContent("[data-testid=stop]")).toBe("Stopped");
    for (const control of [
      "stop",
      "follow-up",
      "send",
      "new-terminal",
      "changes-tab",
      "tui-toggle",
    ])
      expect(await page.isDisabled(`[data-testid=${control}]`), control).toBe(true);
    await until("the reason on the panels", async () =>
      ((await page.textContent("[data-testid=sandbox-unavailable]")) ?? "").includes(
        "unavailable: the session was stopped",
      ),
    );
    // A reload shows the same.
    await page.reload();
    await page.waitForSelector("[data-testid=session-ended]:not([hidden])");
    expect(await page.isDisabled("[data-testid=follow-up]")).toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}/workbench-stopped.png` });
    // Continue in a new session: a new session page, whose task links this one.
    await page.click("[data-testid=continue]");
    await page.waitForURL(
      (u) => /\/sessions\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(id),
    );
    const next = page.url().split("/").at(-1)!;
    const row = (await stack.owner.request("GET", `/api/sessions/${next}`)).body;
    expect(row.prompt).toContain(`${stack.base}/sessions/${id}`);
    await stack.owner.request("POST", `/api/sessions/${next}/stop`);
    await until(
      "the new session stopped",
      async () =>
        (await stack.owner.request("GET", `/api/sessions/${next}`)).body.status === "stopped",
      60_000,
    );
  }, 90_000);

  it("did all of the above within its Content-Security-Policy", () => {
    expect(cspViolations).toEqual([]);
  });
});

describe.skipIf(!chromiumAvailable())(
  "Settings in headless Chromium: claiming a GitHub installation",
  () => {
    const INSTALLATION = 91;
    let fake: FakeGitHub;
    let stack: Stack;
    let browser: Browser;

    beforeAll(async () => {
      const keys = appKeys();
      fake = await startFakeGitHubApp(keys);
      fake.installations.set(INSTALLATION, [
        {
          name: "site",
          full_name: "acme/site",
          clone_url: "https://git.example.test/acme/site.git",
          default_branch: "main",
        },
      ]);
      stack = await startStack("postgres", {
        PUBLIC_URL: "self",
        ...githubAppEnv(fake.url, keys.privateKey),
        SANDBOX_PROVIDER: "local",
      });
      // GitHub tells Tandem about the installation; it lands in the default org.
      expect(
        (
          await postGitHub(
            stack.base,
            "installation",
            installationCreated({ installationId: INSTALLATION, account: "acme" }),
          )
        ).status,
      ).toBe(202);
      await until(
        "the installation synced",
        async () =>
          stack.rt.database.db.query.repositories.findFirst({
            where: eq(schema.repositories.name, "acme/site"),
          }),
        15_000,
      );
      browser = await launchBrowser();
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
      await stack?.close();
      await fake?.close();
    });

    it("an admin of the default org opens Settings from the header and claims the installation for another org of theirs", async () => {
      const labs = await stack.owner.request("POST", "/api/orgs", { name: "Labs" });
      const page = await browser.newPage();
      const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
        userId: stack.rt.ownerId,
        kind: "login",
        ttlMs: 60_000,
      });
      await page.goto(`${stack.base}/login/${login.token}`);
      await page.click("[data-testid=settings-link]");
      await page.waitForURL(/\/settings$/);
      const item = `[data-testid=installation][data-installation='${INSTALLATION}']`;
      await page.waitForSelector(item);
      expect(await page.textContent(`${item} [data-testid=installation-repositories]`)).toContain(
        "acme/site",
      );
      await page.selectOption("[data-testid=settings-org]", labs.body.id);
      await page.waitForSelector(`${item} [data-testid=claim] >> text=Claim for Labs`);
      await page.click(`${item} [data-testid=claim]`);
      await page.waitForSelector(`${item} [data-testid=installation-org] >> text=Labs`);
      expect(await page.textContent(`${item} [data-testid=installation-repositories]`)).toContain(
        "acme/site",
      );
      expect(await page.$(`${item} [data-testid=claim]`)).toBeNull();
      await page.screenshot({ path: `${ARTIFACTS}/settings-claimed.png` });
      const repos = await stack.owner.request("GET", "/api/repositories", undefined, {
        "x-tandem-org": labs.body.id,
      });
      expect(repos.body.repositories.map((r: { name: string }) => r.name)).toContain("acme/site");
      await page.close();
    }, 30_000);

    it("an admin allows persistent sandboxes for the org with the Settings checkbox", async () => {
      const url = `/api/orgs/${stack.rt.defaultOrgId}/settings`;
      expect((await stack.owner.request("GET", url)).body.allowPersistentSandboxes).toBe(false);
      const page = await browser.newPage();
      const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
        userId: stack.rt.ownerId,
        kind: "login",
        ttlMs: 60_000,
      });
      await page.goto(`${stack.base}/login/${login.token}`);
      await page.goto(`${stack.base}/settings`);
      const box = "[data-testid=allow-persistent]";
      await page.waitForSelector(`${box}:not([disabled])`);
      expect(await page.isChecked(box)).toBe(false);
      const saved = page.waitForResponse(
        (r) => r.url().endsWith(url) && r.request().method() === "PATCH",
      );
      await page.click(box);
      expect((await saved).status()).toBe(200);
      expect((await stack.owner.request("GET", url)).body.allowPersistentSandboxes).toBe(true);
      await page.reload();
      await page.waitForSelector(`${box}:not([disabled])`);
      expect(await page.isChecked(box)).toBe(true);
      await page.screenshot({ path: `${ARTIFACTS}/settings-persistent.png` });
      await stack.owner.request("PATCH", url, { allowPersistentSandboxes: false });
      await page.close();
    }, 30_000);

    it("shows no Settings link to a member who administers nothing", async () => {
      const other = await otherOrganization(stack.rt);
      await stack.rt.database.db
        .update(schema.memberships)
        .set({ role: "member" })
        .where(eq(schema.memberships.userId, other.userId));
      const { token } = await issueToken(stack.rt.database.db, stack.rt.clock, {
        userId: other.userId,
        kind: "browser",
        ttlMs: 60_000,
      });
      const context = await browser.newContext();
      await context.addCookies([{ name: "tandem_session", value: token, url: stack.base }]);
      const page = await context.newPage();
      const me = page.waitForResponse((r) => r.url().endsWith("/api/me"));
      await page.goto(`${stack.base}/`);
      await me;
      await page.waitForSelector("[data-testid=no-sessions]");
      expect(await page.$("[data-testid=settings-link]")).toBeNull();
      await page.goto(`${stack.base}/settings`);
      await page.waitForSelector("main .notice >> text=for the owners and admins");
      await context.close();
    }, 30_000);
  },
);
