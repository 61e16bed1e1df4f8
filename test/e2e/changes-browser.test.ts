import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { eq } from "drizzle-orm";
import { execCollect, schema } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { chromiumAvailable, launchBrowser, signIn } from "../helpers/browser.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  startGitServer,
  waitFirstTurn,
  type TestGit,
} from "../helpers/e2e.ts";
import { seriousA11yViolations } from "../helpers/axe.ts";
import { checkPage } from "../helpers/screens.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable() || !chromiumAvailable();

/** What the agent's first turn writes: files in nested folders, one deleted, one edited. */
const FIRST_EDIT = [
  "*** Begin Patch",
  "*** Update File: README.md",
  "@@",
  " # app",
  "+",
  "+Adds and greets.",
  "*** Update File: src/app/main.ts",
  "@@",
  "-export const main = 1;",
  "+import { add } from './util/math';",
  "+export const main = add(1, 2);",
  "*** Add File: src/app/util/math.ts",
  "+export const add = (a: number, b: number) => a + b;",
  "+export const sub = (a: number, b: number) => a - b;",
  "*** Add File: docs/guide/intro.md",
  "+# Intro",
  "+How to greet.",
  "*** Delete File: old.txt",
  "*** End Patch",
  "",
].join("\n");

const FILES = {
  "README.md": "modified",
  "done.txt": "renamed",
  "docs/guide/intro.md": "added",
  "old.txt": "deleted",
  "src/app/main.ts": "modified",
  "src/app/util/math.ts": "added",
};

describe.skipIf(skip)("the Changes panel in headless Chromium", () => {
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let id: string;
  const cspViolations: string[] = [];
  const file = (path: string) => `[data-testid=changes] section.file-diff[data-path='${path}']`;
  const treeFile = (path: string) => `[data-testid=changes-tree] li.file[data-path='${path}']`;
  const openChanges = async () => {
    await page.click("[data-testid=changes-tab]");
    await page.waitForSelector(`${file("README.md")} .d2h-wrapper`);
  };
  /** Whether the panel scrolled to the file: its diff at the top, or as near as the panel's end allows. */
  const scrolledTo = (on: Page, path: string) =>
    on.evaluate((p) => {
      const pane = document.querySelector<HTMLElement>("[data-testid=changes]")!;
      const box = pane.getBoundingClientRect();
      const top = document
        .querySelector(`section.file-diff[data-path="${p}"]`)!
        .getBoundingClientRect().top;
      const atEnd =
        pane.scrollTop > 0 && pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 1;
      return top >= box.top - 1 && (top < box.top + 40 || (atEnd && top < box.bottom));
    }, path);
  const comment = async (path: string, code: string, text: string) => {
    await page.click(`${file(path)} tr:has-text(${JSON.stringify(code)}) .d2h-code-line`);
    await page.fill("[data-testid=review-text]", text);
    await page.click("[data-testid=review-add]");
    await page.waitForSelector(`${file(path)} [data-testid=review-pending] >> text=${text}`);
  };

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "p" },
      {
        "acme/app": {
          "README.md": "# app\n",
          "old.txt": "to be removed\n",
          "todo.txt": "one\ntwo\n",
          "src/app/main.ts": "export const main = 1;\n",
        },
      },
    );
    model = await new ModelServer([
      { applyPatch: FIRST_EDIT },
      { message: "Edited five files." },
      // The follow-up that carries the review comments: the agent edits math.ts again.
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: src/app/util/math.ts\n@@\n export const sub = (a: number, b: number) => a - b;\n+export const mul = (a: number, b: number) => a * b;\n*** End Patch\n",
      },
      { message: "Addressed the comments." },
      { message: "Noted." },
    ]).listen();
    stack = await startStack("postgres", { PUBLIC_URL: "self", ...dockerModelEnv(model, "k") });
    await registerRepository(stack, git, "acme/app");
    const created = await stack.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "Add math helpers and a guide",
    });
    expect(created.status).toBe(201);
    id = created.body.id;
    await waitFirstTurn(stack, id);
    // Moved in the sandbox, as a person in the terminal would: listed as one renamed file.
    const sandbox = await sandboxOf(stack, id);
    await execCollect(stack.sandboxes, sandbox!.externalId!, [
      "sh",
      "-c",
      "cd /workspace/acme/app && mv todo.txt done.txt",
    ]);
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    page = await context.newPage();
    page.on("console", (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await signIn(page, stack, stack.rt.ownerId);
    await page.waitForURL((u) => !u.pathname.startsWith("/login"));
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await model?.close();
    await git?.close();
  });

  it("lists the changed files as a tree of folders, each file with its status and counts", async () => {
    await page.goto(`${stack.base}/sessions/${id}`);
    await openChanges();
    expect(
      await page.$$eval("[data-testid=changes-tree] [data-testid=tree-folder]", (els) =>
        els.map((e) => (e as HTMLElement).dataset.folder),
      ),
    ).toEqual(["docs/guide", "src/app", "src/app/util"]);
    const listed = await page.$$eval("[data-testid=changes-tree] li.file", (els) =>
      Object.fromEntries(els.map((e) => [(e as HTMLElement).dataset.path, e.textContent])),
    );
    expect(Object.keys(listed).sort()).toEqual(Object.keys(FILES).sort());
    for (const [path, status] of Object.entries(FILES))
      expect(listed[path], path).toContain(status);
    expect(listed["src/app/util/math.ts"]).toMatch(/math\.ts.*\+2 −0/);
    expect(listed["old.txt"]).toMatch(/\+0 −1/);
    expect(listed["src/app/main.ts"]).toMatch(/\+2 −1/);
    expect(await page.textContent(`${file("done.txt")} [data-testid=file-toggle]`)).toContain(
      "todo.txt → done.txt",
    );
    // A folder closes and opens.
    const folder = "[data-testid=tree-folder][data-folder='src/app']";
    await page.click(folder);
    expect(await page.getAttribute(folder, "aria-expanded")).toBe("false");
    expect(await page.isVisible(treeFile("src/app/main.ts"))).toBe(false);
    expect(await page.isVisible(treeFile("src/app/util/math.ts"))).toBe(false);
    await page.click(folder);
    expect(await page.isVisible(treeFile("src/app/util/math.ts"))).toBe(true);
  }, 60_000);

  it("scrolls to a file clicked in the tree and names it in the address; the address opens the panel there", async () => {
    expect(
      await page.$$eval("[data-testid=diff] section.file-diff", (els) =>
        els.map((e) => (e as HTMLElement).dataset.path),
      ),
    ).toEqual([
      "docs/guide/intro.md",
      "src/app/util/math.ts",
      "src/app/main.ts",
      "done.txt",
      "old.txt",
      "README.md",
    ]);
    await page.click(`${treeFile("src/app/main.ts")} a`);
    await until("main.ts scrolled to", () => scrolledTo(page, "src/app/main.ts"), 5_000);
    expect(new URL(page.url()).hash).toBe("#file-src/app/main.ts");
    expect(await page.getAttribute(`${treeFile("src/app/main.ts")} a`, "aria-current")).toBe(
      "true",
    );
    // Loaded with a file's anchor, the page opens the panel at that file.
    const other = await context.newPage();
    try {
      await other.setViewportSize({ width: 1440, height: 900 });
      await other.goto(`${stack.base}/sessions/${id}#file-src/app/util/math.ts`);
      await other.waitForSelector(`${file("src/app/util/math.ts")} .d2h-wrapper`);
      await until("math.ts scrolled to", () => scrolledTo(other, "src/app/util/math.ts"), 5_000);
      // And stays there through the panel's refresh after the page's replay of the agent's edits.
      await other.waitForTimeout(1_000);
      expect(await scrolledTo(other, "src/app/util/math.ts")).toBe(true);
      expect(
        await other.getAttribute(`${treeFile("src/app/util/math.ts")} a`, "aria-current"),
      ).toBe("true");
    } finally {
      await other.close();
    }
    await page.evaluate(() => history.replaceState(null, "", location.pathname));
  }, 60_000);

  it("collapses and opens a file's diff from its header", async () => {
    const toggle = `${file("README.md")} [data-testid=file-toggle]`;
    expect(await page.getAttribute(toggle, "aria-expanded")).toBe("true");
    await page.click(toggle);
    expect(await page.getAttribute(toggle, "aria-expanded")).toBe("false");
    expect(await page.isVisible(`${file("README.md")} .d2h-wrapper`)).toBe(false);
    await page.click(toggle);
    expect(await page.isVisible(`${file("README.md")} .d2h-wrapper`)).toBe(true);
  }, 30_000);

  it("marks files viewed: each collapses, the header counts them, and a reload keeps them", async () => {
    expect(await page.textContent("[data-testid=viewed-count]")).toBe("0 of 6 viewed");
    for (const path of ["src/app/util/math.ts", "src/app/main.ts"]) {
      await page.check(`${file(path)} [data-testid=viewed]`);
      expect(await page.isVisible(`${file(path)} .d2h-wrapper`)).toBe(false);
      expect(await page.getAttribute(treeFile(path), "class")).toContain("viewed");
    }
    expect(await page.textContent("[data-testid=viewed-count]")).toBe("2 of 6 viewed");
    await page.reload();
    await openChanges();
    expect(await page.textContent("[data-testid=viewed-count]")).toBe("2 of 6 viewed");
    for (const path of ["src/app/util/math.ts", "src/app/main.ts"]) {
      expect(await page.isChecked(`${file(path)} [data-testid=viewed]`), path).toBe(true);
      expect(await page.isVisible(`${file(path)} .d2h-wrapper`), path).toBe(false);
    }
    expect(await page.isChecked(`${file("README.md")} [data-testid=viewed]`)).toBe(false);
  }, 60_000);

  it("collects line comments above the composer, each removable, and sends them with the next message; the file the agent changes again is no longer viewed", async () => {
    await comment("README.md", "Adds and greets.", "Say what it greets");
    await comment("docs/guide/intro.md", "How to greet.", "Give an example");
    await comment("docs/guide/intro.md", "# Intro", "Drop this heading");
    expect(await page.textContent("[data-testid=pending-summary]")).toBe(
      "3 comments will be sent with your next message",
    );
    await page.click(
      "[data-testid=pending-comment][data-path='docs/guide/intro.md'][data-line='1'] [data-testid=pending-remove]",
    );
    expect(await page.textContent("[data-testid=pending-summary]")).toBe(
      "2 comments will be sent with your next message",
    );
    // Its note in the diff goes with it; the others stay.
    expect(
      await page.$$eval(`${file("docs/guide/intro.md")} tr.review`, (rows) =>
        rows.map((r) => (r as HTMLElement).dataset.line),
      ),
    ).toEqual(["2"]);
    const result = await checkPage(page, "session-changes");
    expect(result.violations).toEqual([]);
    expect(result.overflow).toEqual([]);
    // Still there after a reload: nothing is lost before it is sent.
    await page.reload();
    await page.waitForSelector("[data-testid=pending-comments]:not([hidden])");
    expect(
      await page.$$eval("[data-testid=pending-comment]", (els) =>
        els.map((e) => `${(e as HTMLElement).dataset.path}:${(e as HTMLElement).dataset.line}`),
      ),
    ).toEqual(["README.md:3", "docs/guide/intro.md:2"]);
    await openChanges();
    // And under their lines in the diff again.
    expect(
      await page.$$eval("[data-testid=changes] tr.review [data-testid=review-pending]", (els) =>
        els.map((e) => e.textContent),
      ),
    ).toEqual([
      "Will be sent with your next message: docs/guide/intro.md:2: Give an example",
      "Will be sent with your next message: README.md:3: Say what it greets",
    ]);

    const before = model.responseRequests.length;
    await page.fill("[data-testid=follow-up]", "Please address these");
    await page.click("[data-testid=send]");
    const expected = [
      "Please address these",
      "",
      "Review comment on README.md:3: Say what it greets",
      "Review comment on docs/guide/intro.md:2: Give an example",
    ].join("\n");
    await page.waitForSelector("[data-testid=pending-comments][hidden]", { state: "attached" });
    expect(await page.$$("[data-testid=changes] [data-testid=review-pending]")).toHaveLength(0);
    const [stored] = await stack.rt.database.db
      .select()
      .from(schema.sessionMessages)
      .where(eq(schema.sessionMessages.text, expected));
    expect(stored?.sessionId).toBe(id);
    // The agent got them: the next model request carries the whole message.
    await until("the follow-up's model request", async () =>
      model.responseRequests
        .slice(before)
        .some((r) => JSON.stringify(r.body).includes("Review comment on README.md:3: Say what")),
    );
    await page.waitForSelector(
      "[data-testid=timeline] .ev.message.assistant >> text=Addressed the comments.",
      { timeout: 90_000 },
    );
    // math.ts changed again: no longer viewed (and open again); main.ts did not, and still is.
    await page.waitForSelector(`${treeFile("src/app/util/math.ts")}:not(.viewed)`, {
      timeout: 15_000,
    });
    await page.waitForSelector(`${file("src/app/util/math.ts")} .d2h-wrapper >> text=mul`);
    expect(await page.isChecked(`${file("src/app/util/math.ts")} [data-testid=viewed]`)).toBe(
      false,
    );
    expect(await page.isChecked(`${file("src/app/main.ts")} [data-testid=viewed]`)).toBe(true);
    expect(await page.textContent("[data-testid=viewed-count]")).toBe("1 of 6 viewed");
  }, 180_000);

  it("Send comments now sends the pending comments on their own", async () => {
    await page.waitForSelector("[data-testid=status][data-status=idle]", { timeout: 90_000 });
    await comment("README.md", "Adds and greets.", "Shorter, please");
    await page.click("[data-testid=send-comments]");
    await page.waitForSelector("[data-testid=pending-comments][hidden]", { state: "attached" });
    await page.waitForSelector(
      "[data-testid=timeline] .ev.message.user >> text=Review comment on README.md:3: Shorter, please",
    );
    const texts = (
      await stack.rt.database.db
        .select({ text: schema.sessionMessages.text })
        .from(schema.sessionMessages)
        .where(eq(schema.sessionMessages.sessionId, id))
    ).map((m) => m.text);
    expect(texts).toContain("Review comment on README.md:3: Shorter, please");
    await page.waitForSelector("[data-testid=timeline] .ev.message.assistant >> text=Noted.", {
      timeout: 90_000,
    });
  }, 120_000);

  it("comments on a line by keyboard: arrows pick it (and say which), Enter opens the box", async () => {
    const body = `${file("README.md")} .file-body`;
    await page.focus(body);
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("ArrowDown");
    const said = (await page.textContent(`${file("README.md")} [data-testid=line-cursor]`))!;
    const line = /^Line (\d+): /.exec(said)?.[1];
    expect(line).toBeDefined();
    expect(await page.$$(`${body} tr.picked`)).toHaveLength(1);
    await page.keyboard.press("Enter");
    await page.waitForSelector("[data-testid=review-text]");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe(
      "review-text",
    );
    await page.keyboard.type("By keyboard");
    await page.keyboard.press("Control+Enter");
    const pending = `[data-testid=pending-comment][data-path='README.md'][data-line='${line}']`;
    await page.waitForSelector(`${pending} >> text=By keyboard`);
    await page.click(`${pending} [data-testid=pending-remove]`);
    await page.waitForSelector(pending, { state: "detached" });
  });

  it("at 390 px puts the tree above the diff, closed until opened, and nothing scrolls sideways", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await openChanges();
    const toggle = "[data-testid=tree-toggle]";
    expect(await page.getAttribute(toggle, "aria-expanded")).toBe("false");
    expect(await page.isVisible(treeFile("README.md"))).toBe(false);
    await page.click(toggle);
    expect(await page.isVisible(treeFile("README.md"))).toBe(true);
    const [tree, diff] = await Promise.all(
      ["[data-testid=changes-tree]", "[data-testid=diff]"].map((s) =>
        page.locator(s).boundingBox(),
      ),
    );
    expect(tree!.y + tree!.height).toBeLessThanOrEqual(diff!.y);
    expect(diff!.x + diff!.width).toBeLessThanOrEqual(390);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    // Side by side too: each half scrolls in its box, reachable by keyboard.
    await page.click("[data-testid=diff-layout]");
    await page.waitForSelector("[data-testid=diff][data-layout=side-by-side] .d2h-file-side-diff");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      390,
    );
    expect(await seriousA11yViolations(page)).toEqual([]);
    await page.click("[data-testid=diff-layout]");
    await page.setViewportSize({ width: 1440, height: 900 });
  }, 60_000);

  it("did all of the above within its Content-Security-Policy", () => {
    expect(cspViolations).toEqual([]);
  });
});
