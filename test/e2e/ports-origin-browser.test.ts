import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { execCollect, issueToken, portOrigin, schema } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  startGitServer,
  type TestGit,
  waitFirstTurn,
} from "../helpers/e2e.ts";
import { freePort, startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable() || !chromiumAvailable();

/**
 * What a hostile page in the sandbox tries against Tandem, from the port's own origin: read and
 * plant Tandem's cookies, call its API with the person's credentials (reading the answer, and
 * blind, to mint a token), and open the session's terminal. It reports what it got.
 */
const PROBE = String.raw`(async () => {
  const r = { serverSaw: window.SERVER_SAW, cookiesBefore: document.cookie };
  for (const name of ["tandem_session", "tandem_csrf", "tandem_planted"]) {
    document.cookie = name + "=planted-by-script; domain=localhost; path=/";
    document.cookie = name + "=planted-by-script; domain=" + location.hostname.split(".").slice(1).join(".") + "; path=/";
  }
  r.cookiesAfter = document.cookie;
  try {
    const res = await fetch(TANDEM + "/api/me", { credentials: "include" });
    r.me = "status " + res.status + " " + (await res.text());
  } catch (e) { r.me = "blocked"; }
  try {
    const res = await fetch(TANDEM + "/api/tokens", { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body: "{\"name\":\"stolen\"}" });
    r.mint = "status " + res.status + " " + (await res.text());
  } catch (e) { r.mint = "blocked"; }
  // A blind form-like POST is sent (no CORS preflight) but must carry no credentials Tandem accepts.
  await fetch(TANDEM + "/api/tokens", { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: "{\"name\":\"stolen-blind\"}" }).catch(() => {});
  r.terminal = await new Promise((resolve) => {
    const ws = new WebSocket(TANDEM.replace(/^http/, "ws") + "/api/sessions/" + SESSION + "/terminal");
    ws.onopen = () => { resolve("open"); ws.close(); };
    ws.onerror = () => resolve("refused");
    ws.onclose = () => resolve("refused");
  });
  document.body.dataset.result = JSON.stringify(r);
})();`;

/** The app in the sandbox: the page (telling it which cookies the server saw), its script, and cookies it sets. */
const SERVER = String.raw`const [port, tandem, session, probe] = process.argv.slice(2);
require("http").createServer((q, s) => {
  if (q.url === "/probe.js") return s.writeHead(200, { "content-type": "text/javascript" }).end(probe);
  s.setHeader("set-cookie", ["app=1; Path=/", "tandem_session=planted-by-header; Domain=localhost; Path=/", "tandem_csrf=planted-by-header; Path=/", "wide=1; Domain=localhost; Path=/"]);
  s.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>sandbox page</title><body>"
    + "<script>window.SERVER_SAW=" + JSON.stringify(q.headers.cookie || "") + ";window.TANDEM=" + JSON.stringify(tandem) + ";window.SESSION=" + JSON.stringify(session) + "</script>"
    + "<script src='/probe.js'></script>");
}).listen(+port, "127.0.0.1");`;

describe.skipIf(skip)("a page of a sandbox port, in headless Chromium, against Tandem", () => {
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  let id: string;

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "p" },
      { "acme/app": { "README.md": "# app\n" } },
    );
    model = await new ModelServer([{ message: "Ready." }]).listen();
    // Tandem on localhost and the ports on *.localhost: the closest a single machine gets to sharing a domain.
    stack = await startStack("postgres", {
      PUBLIC_URL: "self-localhost",
      ...dockerModelEnv(model, "k"),
    });
    await registerRepository(stack, git, "acme/app");
    id = (
      await stack.owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "Get ready",
      })
    ).body.id;
    await waitFirstTurn(stack, id);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    await model?.close();
    await git?.close();
  });

  it("gets none of Tandem's cookies, cannot plant any, cannot use Tandem's API and cannot open its terminal", async () => {
    const tandem = new URL(stack.base.replace("127.0.0.1", "localhost")).origin;
    const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    await page.goto(`${tandem}/login/${login.token}?next=${encodeURIComponent(`/sessions/${id}`)}`);
    await page.waitForSelector("[data-testid=status][data-status=idle]");
    const tandemCookies = async () =>
      Object.fromEntries((await page.context().cookies(tandem)).map((c) => [c.name, c.value]));
    const before = await tandemCookies();
    expect(Object.keys(before).sort()).toEqual(["tandem_csrf", "tandem_session"]);
    const tokensBefore = await stack.rt.database.db.$count(schema.apiTokens);

    const port = await freePort();
    const row = await sandboxOf(stack, id);
    await execCollect(
      stack.sandboxes,
      row!.externalId!,
      ["sh", "-c", "cat > /tmp/probe-server.js"],
      { input: SERVER },
    );
    await execCollect(stack.sandboxes, row!.externalId!, [
      "sh",
      "-c",
      `setsid node /tmp/probe-server.js "$@" >/dev/null 2>&1 </dev/null &`,
      "sh",
      String(port),
      tandem,
      id,
      PROBE,
    ]);

    // Opened as a person does: the Processes panel's link, through Tandem's redirect, in a new tab.
    const link = await until(
      "the port in Processes",
      async () => {
        await page.click("[data-testid=processes-tab]");
        return page
          .waitForSelector(`[data-testid=processes] a[data-port='${port}']`, { timeout: 1_000 })
          .catch(() => null);
      },
      20_000,
    );
    const [opened] = await Promise.all([page.context().waitForEvent("page"), link.click()]);
    await opened.waitForSelector("body[data-result]", { state: "attached", timeout: 20_000 });
    expect(opened.url()).toBe(`${portOrigin(stack.portsBase, id, port)}/`);
    const result = JSON.parse((await opened.getAttribute("body", "data-result"))!);
    await opened.screenshot({ path: `${ARTIFACTS}/ports-origin-probe.png` });

    expect(result.serverSaw).not.toMatch(/tandem_/);
    expect(result.cookiesBefore).toBe("app=1");
    expect(result.cookiesAfter).not.toMatch(/tandem_(session|csrf)=/);
    expect(result.me).toBe("blocked");
    expect(result.mint).toBe("blocked");
    expect(result.terminal).toBe("refused");

    // Tandem's origin still has exactly its own cookies, and they still sign the person in.
    expect(await tandemCookies()).toEqual(before);
    await page.bringToFront();
    const me = await page.evaluate(async () => (await fetch("/api/me")).status);
    expect(me).toBe(200);
    expect(await stack.rt.database.db.$count(schema.apiTokens)).toBe(tokensBefore);
    await opened.close();
  }, 60_000);
});
