import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { execCollect } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { ARTIFACTS, chromiumAvailable, launchBrowser, signIn } from "../helpers/browser.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { checkPage } from "../helpers/screens.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable() || !chromiumAvailable();

/** The agent's closing message: Markdown, with a script and a handler that must not survive. */
const AGENT_MARKDOWN =
  "Done: **hello.txt** now greets the world.\n\n- read it\n- edited `hello.txt`\n\n" +
  '<script>window.__xss = "script"</script><img src="x" onerror="window.__xss = \'onerror\'">';
const COMMAND = "sleep 4; printf 'top\\n  two spaces\\n    four spaces\\n'; exit 3";

/**
 * The session page as people use it: who said what, the agent's Markdown made safe, commands
 * with their output, exit code and duration, live progress (working, the running command, the
 * plan, tokens), a composer that stays put and takes pasted and dropped files, a dock that
 * resizes, collapses and remembers, renamable terminal tabs, the TUI as the pane's other mode,
 * and all of it at 390 px.
 */
describe.skipIf(skip)("the session page in headless Chromium", { timeout: 120_000 }, () => {
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let id: string;

  const visible = (testid: string) => page.isVisible(`[data-testid=${testid}]`);
  const expectClean = (check: { violations: string[]; overflow: string[] }) => {
    expect(check.violations).toEqual([]);
    expect(check.overflow).toEqual([]);
  };

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "p" },
      { "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" } },
    );
    model = await new ModelServer([
      {
        plan: [
          { step: "Read hello.txt", status: "completed" },
          { step: "Greet the world", status: "in_progress" },
          { step: "Say what changed", status: "pending" },
        ],
      },
      { shell: COMMAND },
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: AGENT_MARKDOWN },
      { message: "Read both files." },
    ]).listen();
    stack = await startStack("postgres", { PUBLIC_URL: "self", ...dockerModelEnv(model, "k") });
    await registerRepository(stack, git, "acme/app");
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await signIn(page, stack, stack.rt.ownerId);
    await page.waitForSelector("[data-testid=prompt]");
    const created = await stack.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "Greet the world in hello.txt",
    });
    expect(created.status).toBe(201);
    id = created.body.id;
    await page.goto(`${stack.base}/sessions/${id}`);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await model?.close();
    await git?.close();
  });

  it("shows that the agent is working, the command it is running with its elapsed time, and its plan", async () => {
    await page.waitForSelector("[data-testid=working]:visible", { timeout: 60_000 });
    const running = await page.waitForSelector("[data-testid=running-command]:visible", {
      timeout: 90_000,
    });
    expect(await running.textContent()).toContain("sleep 4");
    const elapsed = "[data-testid=running-command] .elapsed";
    const first = await page.textContent(elapsed);
    expect(first).toMatch(/^\d+(\.\d)? s$/);
    // It counts up while the command runs.
    await page.waitForFunction(
      ([selector, before]) =>
        parseFloat(document.querySelector(selector!)?.textContent ?? "") > parseFloat(before!),
      [elapsed, first],
      { timeout: 3000 },
    );
    expect(await page.textContent("[data-testid=working]")).toMatch(/Working…/);
    await page.screenshot({ path: `${ARTIFACTS}/session-working.png` });
    // The plan the agent made through its plan tool, pinned above the composer.
    const plan = await page.waitForSelector("[data-testid=plan]:visible");
    expect(await plan.textContent()).toContain("1 of 3 done");
    expect(
      await page.$$eval("[data-testid=plan] li", (lis) =>
        lis.map((li) => [li.textContent, li.getAttribute("data-done")]),
      ),
    ).toEqual([
      ["✓Read hello.txt (done)", "true"],
      ["Greet the world (to do)", "false"],
      ["Say what changed (to do)", "false"],
    ]);
    await page.waitForSelector("[data-testid=running-command]", { state: "hidden" });
  });

  it("shows the command's output with its indentation, its exit code and how long it ran", async () => {
    const item = "[data-testid=timeline] .ev.command";
    await page.waitForSelector(`${item} >> text=sleep 4`);
    expect(await page.textContent(`${item} [data-testid=exit-code]`)).toBe("exit 3");
    const took = await page.textContent(`${item} [data-testid=command-duration]`);
    expect(took).toMatch(/^\d+(\.\d)? s$/);
    expect(parseFloat(took!)).toBeGreaterThanOrEqual(3.5);
    await page.click(`${item} summary`);
    const output = await page.$eval(`${item} pre`, (pre) => ({
      text: pre.textContent,
      whiteSpace: getComputedStyle(pre).whiteSpace,
    }));
    expect(output.text).toBe("top\n  two spaces\n    four spaces\n");
    expect(output.whiteSpace).toBe("pre");
  });

  it("renders the agent's Markdown sanitised, sets you and the agent apart, and dates each item on hover", async () => {
    const agent = "[data-testid=timeline] .ev.message.assistant";
    await page.waitForSelector(`${agent} >> text=now greets the world`, { timeout: 90_000 });
    await page.waitForSelector("[data-testid=status][data-status=idle]", { timeout: 90_000 });
    expect(await page.textContent(`${agent} .text strong`)).toBe("hello.txt");
    expect(await page.$$eval(`${agent} .text li`, (lis) => lis.map((l) => l.textContent))).toEqual([
      "read it",
      "edited hello.txt",
    ]);
    // The script and the handler were stripped, and nothing ran.
    expect(await page.$$(`[data-testid=timeline] script`)).toHaveLength(0);
    const img = await page.$(`${agent} .text img`);
    expect(img && (await img.getAttribute("onerror"))).toBeNull();
    expect(await page.evaluate(() => (window as { __xss?: string }).__xss)).toBeUndefined();

    // You on the right in a tinted bubble; the agent as plain prose from the left.
    const look = await page.evaluate(() => {
      const box = (el: Element) => el.getBoundingClientRect();
      const list = box(document.querySelector("[data-testid=timeline]")!);
      const you = document.querySelector(".ev.message.user .bubble")!;
      const agentText = document.querySelector(".ev.message.assistant .text")!;
      return {
        youRightGap: list.right - box(you).right,
        youLeftGap: box(you).left - list.left,
        agentLeftGap: box(agentText).left - list.left,
        youBackground: getComputedStyle(you).backgroundColor,
        agentBackground: getComputedStyle(agentText).backgroundColor,
      };
    });
    expect(look.youRightGap).toBeLessThan(look.youLeftGap);
    expect(look.agentLeftGap).toBeLessThan(40);
    expect(look.youBackground).not.toBe("rgba(0, 0, 0, 0)");
    expect(look.agentBackground).toBe("rgba(0, 0, 0, 0)");

    // Every item carries its time: the clock time, and the full date on hover.
    const times = await page.$$eval("[data-testid=timeline] .ev.message time", (ts) =>
      ts.map((t) => [t.getAttribute("datetime"), t.getAttribute("title")]),
    );
    expect(times.length).toBeGreaterThanOrEqual(2);
    for (const [datetime, title] of times) {
      expect(Number.isNaN(Date.parse(datetime!))).toBe(false);
      expect(title).toBeTruthy();
    }
  });

  it("ends the turn: no longer working, the session's tokens in the header, Changes opened by itself", async () => {
    expect(await visible("working")).toBe(false);
    // Announced to screen readers as it happened.
    expect(await page.textContent("[data-testid=status-live]")).toBe("Session idle");
    const { usage } = (await stack.owner.request("GET", `/api/sessions/${id}`)).body;
    expect(usage.inputTokens).toBeGreaterThan(0);
    await until(
      "the header's tokens",
      async () =>
        (await page.getAttribute("[data-testid=usage]", "data-input")) ===
        String(usage.inputTokens),
    );
    expect(await page.textContent("[data-testid=usage]")).toMatch(/^[\d.]+k? tokens$/);
    expect(await page.getAttribute("[data-testid=usage]", "title")).toMatch(
      /^[\d,. ]+ input · [\d,. ]+ output tokens$/,
    );
    await page.waitForSelector("[data-testid=changes] li[data-path='hello.txt']");
    expect(await visible("changes")).toBe(true);
    expect(await page.getAttribute("[data-testid=changes-tab]", "aria-current")).toBe("true");
    expectClean(await checkPage(page, "session-chat"));
  });

  it("keeps the composer in view while the timeline scrolls in its own area", async () => {
    await page.setViewportSize({ width: 900, height: 560 });
    await page.waitForTimeout(300); // the dock takes the new window's measure
    try {
      const measure = () =>
        page.evaluate(() => {
          const scroller = document.querySelector("[data-testid=timeline]")!.parentElement!;
          const composer = document.querySelector("[data-testid=follow-up]")!;
          const r = composer.getBoundingClientRect();
          return {
            pageScrolls: document.documentElement.scrollHeight > innerHeight,
            timelineScrolls: scroller.scrollHeight > scroller.clientHeight,
            scrollTop: scroller.scrollTop,
            composerTop: r.top,
            composerInView: r.top >= 0 && r.bottom <= innerHeight,
          };
        });
      const atEnd = await measure();
      expect(atEnd).toMatchObject({
        pageScrolls: false,
        timelineScrolls: true,
        composerInView: true,
      });
      await page.$eval("[data-testid=timeline]", (t) => (t.parentElement!.scrollTop = 0));
      const atTop = await measure();
      expect(atTop.scrollTop).toBe(0);
      expect(atTop.composerInView).toBe(true);
      expect(atTop.composerTop).toBe(atEnd.composerTop);
    } finally {
      await page.setViewportSize({ width: 1440, height: 900 });
    }
  });

  it("attaches a pasted file and a dropped file, and Ctrl+Enter sends them with the message", async () => {
    await page.$eval("[data-testid=follow-up]", (box) => {
      const pasted = new DataTransfer();
      pasted.items.add(new File(["pasted notes\n"], "pasted.txt", { type: "text/plain" }));
      box.dispatchEvent(
        new ClipboardEvent("paste", { clipboardData: pasted, bubbles: true, cancelable: true }),
      );
      const dropped = new DataTransfer();
      dropped.items.add(new File(["dropped notes\n"], "dropped.txt", { type: "text/plain" }));
      const composer = box.closest("form")!;
      composer.dispatchEvent(
        new DragEvent("dragover", { dataTransfer: dropped, bubbles: true, cancelable: true }),
      );
      composer.dispatchEvent(
        new DragEvent("drop", { dataTransfer: dropped, bubbles: true, cancelable: true }),
      );
    });
    expect(await page.textContent("[data-testid=attachments]")).toBe("pasted.txt×dropped.txt×");
    await page.fill("[data-testid=follow-up]", "Read both");
    await page.focus("[data-testid=follow-up]");
    await page.keyboard.press("Control+Enter");
    const sent = await page.waitForSelector(
      "[data-testid=timeline] .ev.message.user >> text=.tandem/attachments/dropped.txt",
    );
    expect(await sent.textContent()).toContain("Read both");
    expect(await sent.textContent()).toContain(".tandem/attachments/pasted.txt");
    const row = await sandboxOf(stack, id);
    const inside = await execCollect(stack.sandboxes, row!.externalId!, [
      "cat",
      "/workspace/acme/app/.tandem/attachments/pasted.txt",
      "/workspace/acme/app/.tandem/attachments/dropped.txt",
    ]);
    expect(inside.stdout).toBe("pasted notes\ndropped notes\n");
    await page.waitForSelector("[data-testid=timeline] .ev.message.assistant >> text=Read both", {
      timeout: 90_000,
    });
    await page.waitForSelector("[data-testid=status][data-status=idle]", { timeout: 90_000 });
  });

  it("resizes the dock by keyboard and by dragging, collapses it, and remembers both after a reload", async () => {
    const handle = "[data-testid=dock-handle]";
    const now = async () => Number(await page.getAttribute(handle, "aria-valuenow"));
    const height = () =>
      page.$eval("[data-testid=dock]", (d) => Math.round(d.getBoundingClientRect().height));
    expect(await page.getAttribute(handle, "role")).toBe("separator");
    const start = await now();
    expect(await height()).toBe(start);
    await page.focus(handle);
    await page.keyboard.press("ArrowUp");
    await page.keyboard.press("ArrowUp");
    expect(await now()).toBe(start + 64);
    await page.keyboard.press("ArrowDown");
    expect(await now()).toBe(start + 32);
    const box = (await page.locator(handle).boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2 - 100, { steps: 5 });
    await page.mouse.up();
    const dragged = await now();
    expect(Math.abs(dragged - (start + 132))).toBeLessThanOrEqual(2);
    expect(await height()).toBe(dragged);

    await page.click("[data-testid=dock-toggle]");
    expect(await page.getAttribute("[data-testid=dock-toggle]", "aria-expanded")).toBe("false");
    expect(await visible("changes")).toBe(false);
    await page.reload();
    await page.waitForSelector("[data-testid=dock-toggle][aria-expanded=false]");
    expect(await visible("changes")).toBe(false);
    await page.click("[data-testid=dock-toggle]");
    expect(await now()).toBe(dragged);
    expect(await height()).toBe(dragged);
    expect(JSON.parse((await page.evaluate(() => localStorage.getItem("tandem.dock")))!)).toEqual({
      heightPx: dragged,
      collapsed: false,
    });
  });

  it("renames a terminal tab by double-click and closes it", async () => {
    await page.waitForSelector("[data-testid=new-terminal]:not([disabled])");
    await page.click("[data-testid=new-terminal]");
    await page.waitForSelector("[data-testid=terminal-1][data-connected=true]");
    await page.dblclick("[data-testid=terminal-tab-1]");
    await page.fill("[data-testid=terminal-rename-1]", "server");
    await page.keyboard.press("Enter");
    expect(await page.textContent("[data-testid=terminal-tab-1]")).toBe("server");
    expect(await page.getAttribute("[data-testid=terminal-close-1]", "aria-label")).toBe(
      "Close server",
    );
    await page.click("[data-testid=new-terminal]");
    await page.waitForSelector("[data-testid=terminal-2][data-connected=true]");
    await page.click("[data-testid=terminal-tab-1]");
    await page.click("[data-testid=terminal-close-1]");
    expect(await page.$("[data-testid=terminal-tab-1]")).toBeNull();
    expect(await page.$("[data-testid=terminal-1]")).toBeNull();
    expect(await visible("terminal-2")).toBe(true);
    expectClean(await checkPage(page, "session-dock"));
  });

  it("shows the TUI in place of the chat, with no second input under it", async () => {
    await page.click("[data-testid=tui-toggle]");
    await page.waitForSelector("[data-testid=tui]:visible");
    expect(await visible("follow-up")).toBe(false);
    expect(await visible("send")).toBe(false);
    expect(await visible("timeline")).toBe(false);
    expect(await page.getAttribute("[data-testid=tui-toggle]", "aria-pressed")).toBe("true");
    expectClean(await checkPage(page, "session-tui"));
    await page.click("[data-testid=tui-toggle]");
    expect(await visible("follow-up")).toBe(true);
    expect(await visible("tui")).toBe(false);
  });

  it("fits 390 px without sideways scrolling, and Stop is there to press", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    const reachable = await page.$eval("[data-testid=stop]", (stop) => {
      const r = stop.getBoundingClientRect();
      const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return r.left >= 0 && r.right <= innerWidth && r.top >= 0 && hit === stop;
    });
    expect(reachable).toBe(true);
    await page.click("[data-testid=stop]");
    await page.waitForSelector("[data-testid=session-ended]:not([hidden])", { timeout: 60_000 });
    expect(await page.textContent("[data-testid=stop]")).toBe("Stopped");
    // The ended session's composer takes no dropped files either.
    await page.$eval("[data-testid=follow-up]", (box) => {
      const dropped = new DataTransfer();
      dropped.items.add(new File(["late\n"], "late.txt", { type: "text/plain" }));
      box
        .closest("form")!
        .dispatchEvent(
          new DragEvent("drop", { dataTransfer: dropped, bubbles: true, cancelable: true }),
        );
    });
    expect(await page.textContent("[data-testid=attachments]")).toBe("");
    await page.setViewportSize({ width: 1440, height: 900 });
    expectClean(await checkPage(page, "session-stopped"));
  });
});
