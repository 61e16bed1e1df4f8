import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { createOrganization, decryptSecret, schema } from "@tandem/core";
import { FakeGithubOAuth, type FakeGithubAccount } from "../fixtures/fake-github-oauth.ts";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { startStack, TEST_ENCRYPTION_KEY, type Stack } from "../helpers/stack.ts";

const cookiesOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .filter((c) => !c.endsWith("="));

describe("Sign in with GitHub (OAuth web flow against a fake GitHub)", () => {
  let github: FakeGithubOAuth;
  let stack: Stack;
  let sessionId: string;
  let sessionPath: string;

  beforeAll(async () => {
    github = await new FakeGithubOAuth("client-123", "secret-456").listen();
    stack = await startStack(
      "postgres",
      {
        PUBLIC_URL: "self",
        SANDBOX_PROVIDER: "local",
        GITHUB_URL: github.url,
        GITHUB_API_URL: github.url,
        GITHUB_CLIENT_ID: "client-123",
        GITHUB_CLIENT_SECRET: "secret-456",
      },
      { none: true },
    );
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
      defaultBranch: "main",
    });
    sessionId = (
      await stack.owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hello",
      })
    ).body.id;
    sessionPath = `/sessions/${sessionId}`;
  });
  afterAll(async () => {
    await stack?.close();
    await github?.close();
  });

  /** /auth/github → the fake's authorize (which signs `account` in) → the callback, by hand. */
  async function signIn(account: FakeGithubAccount, next = sessionPath) {
    github.nextAccount = account;
    const start = await fetch(`${stack.base}/auth/github?next=${encodeURIComponent(next)}`, {
      redirect: "manual",
    });
    expect(start.status).toBe(302);
    const authorized = await fetch(start.headers.get("location")!, { redirect: "manual" });
    expect(authorized.status).toBe(302);
    return fetch(authorized.headers.get("location")!, {
      redirect: "manual",
      headers: { cookie: cookiesOf(start).join("; ") },
    });
  }

  it("redirects to GitHub's authorize page with the client id, callback, scopes and a state kept in an httpOnly cookie", async () => {
    const res = await fetch(`${stack.base}/auth/github?next=${encodeURIComponent(sessionPath)}`, {
      redirect: "manual",
    });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get("location")!);
    expect(`${to.origin}${to.pathname}`).toBe(`${github.url}/login/oauth/authorize`);
    expect(to.searchParams.get("client_id")).toBe("client-123");
    expect(to.searchParams.get("redirect_uri")).toBe(`${stack.base}/auth/github/callback`);
    expect(to.searchParams.get("scope")).toBe("read:user user:email");
    const state = to.searchParams.get("state")!;
    expect(state.length).toBeGreaterThanOrEqual(32);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith("tandem_github_oauth="))!;
    expect(cookie).toContain(`tandem_github_oauth=${state}.`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Max-Age=600/);
    expect(await fetch(`${stack.base}/auth/providers`).then((r) => r.json())).toEqual({
      github: true,
    });
  });

  it("links the user an admin added by email (GitHub's primary verified email) and lands on the session page", async () => {
    const added = await stack.owner.request("POST", `/api/orgs/${stack.rt.defaultOrgId}/members`, {
      email: "ada@example.test",
      name: "Ada",
    });
    expect(added.status).toBe(201);
    const back = await signIn({
      id: 1001,
      login: "ada",
      name: "Ada L",
      email: null,
      emails: [
        { email: "ada@other.test", primary: false, verified: true },
        { email: "Ada@example.test", primary: true, verified: true },
      ],
    });
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(sessionPath);
    const cookies = cookiesOf(back);
    expect(cookies.some((c) => c.startsWith("tandem_session="))).toBe(true);
    expect(cookies.some((c) => c.startsWith("tandem_csrf="))).toBe(true);
    expect(
      back.headers.getSetCookie().some((c) => /^tandem_github_oauth=;.*Max-Age=0/.test(c)),
    ).toBe(true);
    const page = await fetch(`${stack.base}${sessionPath}`, {
      headers: { cookie: cookies.join("; ") },
    });
    expect(page.status).toBe(200);
    const me = await fetch(`${stack.base}/api/me`, {
      headers: { cookie: cookies.join("; ") },
    }).then((r) => r.json());
    expect(me.userId).toBe(added.body.userId);
    expect(me.organizations.map((o: { id: string }) => o.id)).toEqual([stack.rt.defaultOrgId]);

    const [row] = await stack.rt.database.db
      .select()
      .from(schema.users)
      .where(eq(schema.users.id, added.body.userId));
    expect(row).toMatchObject({ githubId: 1001, githubLogin: "ada", email: "ada@example.test" });
    expect(row!.githubTokenEncrypted).toMatch(/^v1:/);
    expect(decryptSecret(TEST_ENCRYPTION_KEY, row!.githubTokenEncrypted!)).toMatch(/^gho_/);
    const exchange = github.calls.find((c) => c.path === "/login/oauth/access_token")!;
    expect(exchange.method).toBe("POST");
    expect(exchange.headers.accept).toBe("application/json");

    // Signing in again is the same user, not a new one.
    const again = await signIn({ id: 1001, login: "ada-renamed", email: null, emails: [] });
    const me2 = await fetch(`${stack.base}/api/me`, {
      headers: { cookie: cookiesOf(again).join("; ") },
    }).then((r) => r.json());
    expect(me2.userId).toBe(added.body.userId);
  });

  it("refuses a callback whose state does not match the browser's cookie (400)", async () => {
    github.nextAccount = { id: 1002, login: "eve" };
    const start = await fetch(`${stack.base}/auth/github?next=/`, { redirect: "manual" });
    const code = github.issueCode({ id: 1002, login: "eve" });
    const cookie = cookiesOf(start).join("; ");
    const forged = await fetch(
      `${stack.base}/auth/github/callback?code=${code}&state=forged-state-forged-state-forged`,
      { redirect: "manual", headers: { cookie } },
    );
    expect(forged.status).toBe(400);
    expect((await forged.json()).error.message).toContain("state does not match");
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const noCookie = await fetch(`${stack.base}/auth/github/callback?code=${code}&state=${state}`, {
      redirect: "manual",
    });
    expect(noCookie.status).toBe(400);
    expect(noCookie.headers.getSetCookie().some((c) => c.startsWith("tandem_session="))).toBe(
      false,
    );
    const badCode = await fetch(`${stack.base}/auth/github/callback?code=nope&state=${state}`, {
      redirect: "manual",
      headers: { cookie },
    });
    expect(badCode.status).toBe(400);
    expect((await badCode.json()).error.message).toContain("refused the sign-in code");
  });

  it("gives a new GitHub user no org: 404 on the session page, telling them to ask an admin; an unverified email links nothing", async () => {
    const back = await signIn({
      id: 1003,
      login: "newbie",
      email: null,
      emails: [{ email: "ada@example.test", primary: true, verified: false }],
    });
    expect(back.status).toBe(303);
    const cookie = cookiesOf(back).join("; ");
    const page = await fetch(`${stack.base}${sessionPath}`, { headers: { cookie } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain("ask an admin to add you");
    const me = await fetch(`${stack.base}/api/me`, { headers: { cookie } }).then((r) => r.json());
    expect(me.organizations).toEqual([]);
    const [row] = await stack.rt.database.db
      .select()
      .from(schema.users)
      .where(eq(schema.users.githubId, 1003));
    expect(row!.email).toBeNull();
  });

  it("gives a member of another org 404 on this org's session", async () => {
    const back = await signIn({ id: 1004, login: "mallory", email: "mallory@example.test" });
    const [row] = await stack.rt.database.db
      .select()
      .from(schema.users)
      .where(eq(schema.users.githubId, 1004));
    await createOrganization(stack.rt.database.db, { name: "Elsewhere", ownerUserId: row!.id });
    const cookie = cookiesOf(back).join("; ");
    const page = await fetch(`${stack.base}${sessionPath}`, { headers: { cookie } });
    expect(page.status).toBe(404);
    expect(await page.text()).toContain("belongs to an organization you are not a member of");
    const api = await fetch(`${stack.base}/api/sessions/${sessionId}`, { headers: { cookie } });
    expect(api.status).toBe(404);
  });

  it.skipIf(!chromiumAvailable())(
    "in a browser: the login page's GitHub button signs in and returns to the session page",
    async () => {
      await stack.owner.request("POST", `/api/orgs/${stack.rt.defaultOrgId}/members`, {
        email: "grace@example.test",
      });
      github.nextAccount = { id: 1005, login: "grace", email: "grace@example.test" };
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        await page.goto(`${stack.base}${sessionPath}`);
        await page.waitForURL(/\/login\?next=/);
        await page.click("[data-testid=github-login]");
        await page.waitForURL(`${stack.base}${sessionPath}`);
        await page.waitForSelector("[data-testid=status][data-status=queued]");
        // No sandbox yet: the repository-bound controls say why instead of failing.
        await page.waitForSelector("[data-testid=sandbox-unavailable]");
        expect(await page.textContent("[data-testid=sandbox-unavailable]")).toContain(
          "no sandbox yet",
        );
        expect(await page.isDisabled("[data-testid=new-terminal]")).toBe(true);
        expect(await page.isDisabled("[data-testid=tui-toggle]")).toBe(true);
        await page.screenshot({ path: `${ARTIFACTS}/github-login-session.png` });
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});
