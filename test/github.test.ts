import { execFileSync } from "node:child_process";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandAdapter, schema, sessionUrl } from "@tandem/core";
import { FakeGitHub } from "./fixtures/fake-github.ts";
import type { GitHttpServer } from "./fixtures/git-http-server.ts";
import {
  APP_SLUG,
  appKeys,
  githubAppEnv,
  BOT_LOGIN,
  installationCreated,
  issueAssigned,
  issueComment,
  postGitHub,
  reviewComment,
} from "./helpers/github.ts";
import { startFakeGitHubApp, startInstallationGitServer } from "./helpers/github-app.ts";
import { sessionOfThread, waitForStatus } from "./helpers/e2e.ts";
import { startStack, until, type Stack } from "./helpers/stack.ts";
import { apiClient, otherOrganization } from "./helpers/api.ts";

const AGENT = ["node", new URL("./fixtures/slack-agent.mjs", import.meta.url).pathname];
const INSTALLATION = 77;
const REPO = "acme/app";

describe("GitHub: mention in an issue or PR, follow in one comment, leave as a pull request", () => {
  let fake: FakeGitHub;
  let git: GitHttpServer;
  let stack: Stack;
  /** The installation tokens the sandbox's git authenticated with. */
  const gitTokens = new Set<string>();
  const db = () => stack.rt.database.db;
  const bare = () => path.join(git.root, `${REPO}.git`);
  const gitIn = (...args: string[]) =>
    execFileSync("git", ["--git-dir", bare(), ...args], { encoding: "utf8" });

  const sessionOf = (number: number) => sessionOfThread(stack, `${REPO}#${number}`, "github");
  const waitSession = (number: number) =>
    until(`the session of #${number}`, () => sessionOf(number), 20_000);
  const waitStatus = (id: string, status: string) => waitForStatus(stack, id, status, 20_000);
  const tracking = (number: number) =>
    fake.commentsOn(REPO, number).filter((c) => c.body.startsWith("**Tandem**"));
  const processed = (deliveryId: string) =>
    until(
      "the delivery processed",
      async () =>
        (
          await db().query.inboundEvents.findFirst({
            where: eq(schema.inboundEvents.deliveryId, deliveryId),
          })
        )?.processedAt,
      15_000,
    );

  beforeAll(async () => {
    const keys = appKeys();
    fake = await startFakeGitHubApp(keys);
    git = await startInstallationGitServer(fake, (token) => gitTokens.add(token));
    git.createRepo(REPO, { "README.md": "# app\n", "hello.txt": "hello\n" });
    gitIn("branch", "feature-x", "main");
    gitIn("branch", "feature-y", "main");
    fake.installations.set(INSTALLATION, [
      { name: "app", full_name: REPO, clone_url: git.url(REPO), default_branch: "main" },
    ]);
    fake.setPermission(REPO, "alice", "write");
    fake.setPermission(REPO, "mallory", "read");
    fake.branchExists = (_repo, branch) => gitIn("branch", "--list", branch).trim() !== "";
    stack = await startStack(
      "postgres",
      {
        ...githubAppEnv(fake.url, keys.privateKey),
        GITHUB_AGENT_LOGIN: "Tandem-Agent",
        SANDBOX_PROVIDER: "local",
      },
      { agent: commandAdapter(AGENT) },
    );
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await git?.close();
    await fake?.close();
  });

  it("installation.created: the installation's repositories are synced into the default org", async () => {
    const res = await postGitHub(
      stack.base,
      "installation",
      installationCreated({ installationId: INSTALLATION, account: "acme" }),
    );
    expect(res.status).toBe(202);
    const repo = await until(
      "the synced repository",
      async () => db().query.repositories.findFirst({ where: eq(schema.repositories.name, REPO) }),
      15_000,
    );
    expect(repo).toMatchObject({
      orgId: stack.rt.defaultOrgId,
      cloneUrl: git.url(REPO),
      defaultBranch: "main",
    });
    const installation = await db().query.installations.findFirst({
      where: eq(schema.installations.externalId, String(INSTALLATION)),
    });
    expect(installation).toMatchObject({ provider: "github", orgId: stack.rt.defaultOrgId });
    expect(repo!.installationId).toBe(installation!.id);
  });

  it("a bad signature is refused with 401 and nothing is stored", async () => {
    const payload = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 99,
      body: `@${APP_SLUG} forged`,
    });
    const deliveryId = "forged-delivery";
    const forged = await postGitHub(stack.base, "issue_comment", payload, {
      secret: "not-the-secret",
      deliveryId,
    });
    const unsigned = await fetch(`${stack.base}/hooks/github`, {
      method: "POST",
      body: JSON.stringify(payload),
      headers: {
        "content-type": "application/json",
        "x-github-event": "issue_comment",
        "x-github-delivery": deliveryId,
      },
    });
    expect([forged.status, unsigned.status]).toEqual([401, 401]);
    await new Promise((r) => setTimeout(r, 300));
    expect(
      await db().query.inboundEvents.findFirst({
        where: eq(schema.inboundEvents.deliveryId, deliveryId),
      }),
    ).toBeUndefined();
    expect(await sessionOf(99)).toBeUndefined();
  });

  it("a mention on an issue: 👀, one tracking comment edited in place with the link, a pull request with the change; a later mention continues it", async () => {
    const payload = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 1,
      body: `@${APP_SLUG} please write some notes`,
    });
    const res = await postGitHub(stack.base, "issue_comment", payload);
    expect(res.status).toBe(202);
    const session = await waitSession(1);
    expect(session).toMatchObject({ source: "github", baseRef: null });
    expect(session.prompt).toContain("please write some notes");
    expect(session.prompt).toContain("Issue #1: Issue 1");
    const url = sessionUrl("http://tandem.test", session.id);
    await fake.waitFor("👀 on the comment", () =>
      fake.reactions.some(
        (r) => r.target === `issues/comments/${payload.comment.id}` && r.content === "eyes",
      ),
    );

    await fake.waitFor("the pull request", () =>
      fake.pulls.some((p) => p.head === `tandem/${session.id.slice(0, 8)}`),
    );
    const pull = fake.pulls.find((p) => p.head === `tandem/${session.id.slice(0, 8)}`)!;
    expect(pull).toMatchObject({ base: "main", repo: REPO });
    expect(pull.body).toContain("Resolves #1");
    expect(pull.body).toContain(url);
    // The change itself is on the pushed branch, committed in the sandbox.
    expect(gitIn("show", `${pull.head}:notes.txt`)).toBe("a note\nanother note\n");
    expect(gitIn("log", "-1", "--format=%s", pull.head).trim()).toBe("please write some notes");
    await until(
      "the session's pull request url",
      async () =>
        (await db().query.sessions.findFirst({ where: eq(schema.sessions.id, session.id) }))
          ?.pullRequestUrl === pull.html_url,
    );

    await fake.waitFor(
      "the final edit",
      () => tracking(1)[0]?.body.includes(pull.html_url) ?? false,
    );
    const [comment, ...more] = tracking(1);
    expect(more).toEqual([]);
    expect(comment!.edits.length).toBeGreaterThan(0);
    for (const body of [comment!.body, ...comment!.edits])
      expect(body).toContain(`[View session](${url})`);
    expect(comment!.body).toContain("✅ Done");
    expect(comment!.body).toContain("Done: please write some notes");
    expect(comment!.body).toContain("**1 file changed** (+2 −0)");
    expect(comment!.body).toContain("- `notes.txt` +2 −0");
    expect(comment!.body).toMatch(/- \[x\] created `notes.txt`/);
    const editCalls = fake.calls.filter(
      (c) => c.method === "PATCH" && c.path === `/repos/${REPO}/issues/comments/${comment!.id}`,
    );
    for (let i = 1; i < editCalls.length - 1; i++)
      expect(editCalls[i]!.at - editCalls[i - 1]!.at).toBeGreaterThan(1_000);

    // The sandbox's git got a narrowed installation token through the credential helper.
    expect(gitTokens.size).toBeGreaterThan(0);
    for (const token of gitTokens) {
      const minted = fake.tokens.find((t) => t.token === token)!;
      expect(minted).toMatchObject({ installationId: INSTALLATION, repositories: ["app"] });
      expect(minted.permissions).toEqual({ contents: "write", pull_requests: "write" });
    }
    expect(git.requests.some((r) => r.authorized && r.url.includes("git-receive-pack"))).toBe(true);

    // A later mention on the same issue is a follow-up of the same session.
    await waitStatus(session.id, "idle");
    const again = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 1,
      body: `@${APP_SLUG} now write a second note`,
    });
    expect((await postGitHub(stack.base, "issue_comment", again)).status).toBe(202);
    await fake.waitFor("👀 on the follow-up", () =>
      fake.reactions.some((r) => r.target === `issues/comments/${again.comment.id}`),
    );
    await until(
      "the second turn",
      async () =>
        (
          await db()
            .select()
            .from(schema.sessionTurns)
            .where(eq(schema.sessionTurns.sessionId, session.id))
        ).filter((t) => t.status === "completed").length === 2,
      20_000,
    );
    expect((await sessionOf(1))!.id).toBe(session.id);
    await fake.waitFor("the follow-up's final edit", () =>
      tracking(1)[0]!.body.includes("Done: now write a second note"),
    );
    expect(tracking(1)).toHaveLength(1);
    expect(fake.pulls.filter((p) => p.head === pull.head)).toHaveLength(1);
    expect(gitIn("show", `${pull.head}:notes.txt`)).toBe(
      "a note\nanother note\na note\nanother note\n",
    );
  }, 60_000);

  it("a duplicate delivery starts one session", async () => {
    const payload = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 2,
      body: `@${APP_SLUG} look around once`,
    });
    const deliveryId = "dup-delivery-1";
    const [a, b] = await Promise.all([
      postGitHub(stack.base, "issue_comment", payload, { deliveryId }),
      postGitHub(stack.base, "issue_comment", payload, { deliveryId }),
    ]);
    const c = await postGitHub(stack.base, "issue_comment", payload, { deliveryId });
    expect([a.status, b.status, c.status]).toEqual([202, 202, 202]);
    const session = await waitSession(2);
    await waitStatus(session.id, "idle");
    const sessions = await db()
      .select()
      .from(schema.sessions)
      .where(eq(schema.sessions.prompt, session.prompt));
    expect(sessions).toHaveLength(1);
    expect(
      await db()
        .select()
        .from(schema.inboundEvents)
        .where(eq(schema.inboundEvents.deliveryId, deliveryId)),
    ).toHaveLength(1);
  });

  it("someone without write access is told politely, and nothing starts", async () => {
    const payload = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 3,
      body: `@${APP_SLUG} write all the things`,
      user: "mallory",
    });
    const res = await postGitHub(stack.base, "issue_comment", payload);
    expect(res.status).toBe(202);
    await fake.waitFor("the refusal", () => fake.commentsOn(REPO, 3).length === 1);
    const [refusal] = fake.commentsOn(REPO, 3);
    expect(refusal!.body).toContain("@mallory");
    expect(refusal!.body).toContain("write access");
    expect(refusal!.body).toContain("http://tandem.test");
    expect(await sessionOf(3)).toBeUndefined();
    expect(fake.reactions.some((r) => r.target === `issues/comments/${payload.comment.id}`)).toBe(
      false,
    );
  });

  it("when the profile cannot start a session, the reason is answered in the issue and nothing starts", async () => {
    const defaultProfile = and(
      eq(schema.sandboxProfiles.orgId, stack.rt.defaultOrgId),
      eq(schema.sandboxProfiles.name, "default"),
    );
    await db().update(schema.sandboxProfiles).set({ active: false }).where(defaultProfile);
    try {
      const payload = issueComment({
        repo: REPO,
        installationId: INSTALLATION,
        number: 11,
        body: `@${APP_SLUG} please fix it`,
        user: "alice",
      });
      expect((await postGitHub(stack.base, "issue_comment", payload)).status).toBe(202);
      await fake.waitFor("the answer", () => fake.commentsOn(REPO, 11).length === 1);
      const [answer] = fake.commentsOn(REPO, 11);
      expect(answer!.body).toContain(
        "@alice I can't start a session yet: profile default is inactive.",
      );
      expect(await sessionOf(11)).toBeUndefined();
      expect(fake.reactions.some((r) => r.target === `issues/comments/${payload.comment.id}`)).toBe(
        false,
      );
    } finally {
      await db().update(schema.sandboxProfiles).set({ active: true }).where(defaultProfile);
    }
  });

  it("comments by bots, Tandem's own included, are ignored", async () => {
    const own = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 4,
      body: `@${APP_SLUG} write, says the bot`,
      user: BOT_LOGIN,
      userType: "Bot",
    });
    const other = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 4,
      body: `@${APP_SLUG} write, says dependabot`,
      user: "dependabot[bot]",
      userType: "Bot",
    });
    await postGitHub(stack.base, "issue_comment", own, { deliveryId: "bot-own" });
    await postGitHub(stack.base, "issue_comment", other, { deliveryId: "bot-other" });
    await processed("bot-own");
    await processed("bot-other");
    expect(await sessionOf(4)).toBeUndefined();
    expect(fake.commentsOn(REPO, 4)).toEqual([]);
  });

  it("a mention on a pull request works on the PR's head branch and pushes there", async () => {
    const pr = fake.addPull({
      number: 5,
      repo: REPO,
      title: "Feature X",
      body: "",
      head: "feature-x",
      base: "main",
    });
    const before = gitIn("rev-parse", "feature-x").trim();
    const payload = issueComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 5,
      body: `@${APP_SLUG} write notes on this PR`,
      pullRequest: true,
    });
    expect((await postGitHub(stack.base, "issue_comment", payload)).status).toBe(202);
    const session = await waitSession(5);
    expect(session.baseRef).toBe("feature-x");
    expect(session.pullRequestUrl).toBe(pr.html_url);
    await until(
      "the push to feature-x",
      async () => gitIn("rev-parse", "feature-x").trim() !== before,
    );
    expect(gitIn("show", "feature-x:notes.txt")).toBe("a note\nanother note\n");
    expect(gitIn("rev-parse", "feature-x~1").trim()).toBe(before);
    await fake.waitFor("the final edit", () => tracking(5)[0]?.body.includes("✅ Done") ?? false);
    expect(tracking(5)[0]!.body).toContain(`Pull request: ${pr.html_url}`);
    expect(
      fake.pulls.filter(
        (p) => p.repo === REPO && p.head.startsWith("tandem/") && p.body.includes(session.id),
      ),
    ).toEqual([]);
  }, 40_000);

  it("an inline review comment gives the agent the file, line and diff hunk, and is answered in its review thread", async () => {
    fake.addPull({
      number: 6,
      repo: REPO,
      title: "Feature Y",
      body: "",
      head: "feature-y",
      base: "main",
    });
    const payload = reviewComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 6,
      body: `@${APP_SLUG} rename this greeting`,
      path: "hello.txt",
      line: 1,
      diffHunk: "@@ -1 +1 @@\n-hello\n+hello there",
      headRef: "feature-y",
    });
    expect((await postGitHub(stack.base, "pull_request_review_comment", payload)).status).toBe(202);
    const session = await waitSession(6);
    expect(session.baseRef).toBe("feature-y");
    expect(session.prompt).toContain("rename this greeting");
    expect(session.prompt).toContain("`hello.txt` line 1");
    expect(session.prompt).toContain("@@ -1 +1 @@\n-hello\n+hello there");
    await fake.waitFor("👀 on the review comment", () =>
      fake.reactions.some((r) => r.target === `pulls/comments/${payload.comment.id}`),
    );
    const link = `[View session](${sessionUrl(stack.rt.config.PUBLIC_URL, session.id)})`;
    await fake.waitFor("the reply in the review thread", () =>
      fake.reviewReplies.some((r) => r.inReplyTo === payload.comment.id),
    );
    expect(fake.reviewReplies.filter((r) => r.inReplyTo === payload.comment.id)).toEqual([
      {
        repo: REPO,
        pull: 6,
        inReplyTo: payload.comment.id,
        body: `On it: a session is working on this · ${link}`,
      },
    ]);
    await waitStatus(session.id, "idle");
    // Another review comment on the pull request reaches the same session, and is answered in its own thread.
    const second = reviewComment({
      repo: REPO,
      installationId: INSTALLATION,
      number: 6,
      body: `@${APP_SLUG} and this line too`,
      path: "hello.txt",
      line: 1,
      diffHunk: "@@ -1 +1 @@\n-hello\n+hello there",
      headRef: "feature-y",
    });
    expect(
      (
        await postGitHub(stack.base, "pull_request_review_comment", second, {
          deliveryId: "review-follow-up",
        })
      ).status,
    ).toBe(202);
    await fake.waitFor("the reply to the second comment", () =>
      fake.reviewReplies.some((r) => r.inReplyTo === second.comment.id),
    );
    expect(
      fake.reviewReplies.filter((r) => r.inReplyTo === second.comment.id).map((r) => r.body),
    ).toEqual([`Passed on to the session working on this pull request · ${link}`]);
    expect((await waitSession(6)).id).toBe(session.id);
    await until("the second message in the session", async () =>
      (
        await stack.rt.database.db
          .select()
          .from(schema.sessionMessages)
          .where(eq(schema.sessionMessages.sessionId, session.id))
      ).some((m) => m.text.includes("and this line too")),
    );
    await waitStatus(session.id, "idle");
  });

  it("an issue assigned to the app's bot starts a session", async () => {
    const payload = issueAssigned({
      repo: REPO,
      installationId: INSTALLATION,
      number: 7,
      assignee: BOT_LOGIN,
      title: "Add notes",
      body: "Please add notes.",
    });
    expect((await postGitHub(stack.base, "issues", payload)).status).toBe(202);
    const session = await waitSession(7);
    expect(session.prompt).toContain("Issue #7: Add notes");
    await fake.waitFor("👀 on the issue", () =>
      fake.reactions.some((r) => r.target === "issues/7"),
    );
    await fake.waitFor("the tracking comment", () => tracking(7).length === 1);
    // Assigned to a person: not for Tandem.
    const human = issueAssigned({
      repo: REPO,
      installationId: INSTALLATION,
      number: 8,
      assignee: "alice",
      title: "x",
      body: "y",
    });
    await postGitHub(stack.base, "issues", human, { deliveryId: "assigned-human" });
    await processed("assigned-human");
    expect(await sessionOf(8)).toBeUndefined();
  });

  it("an issue assigned to GITHUB_AGENT_LOGIN (GitHub lets no App bot be an assignee) starts a session as the bot's does", async () => {
    const payload = issueAssigned({
      repo: REPO,
      installationId: INSTALLATION,
      number: 9,
      assignee: "tandem-agent",
      title: "Fix the typo",
      body: "In README.",
    });
    expect(
      (await postGitHub(stack.base, "issues", payload, { deliveryId: "assigned-agent-login" }))
        .status,
    ).toBe(202);
    const session = await waitSession(9);
    expect(session.prompt).toContain("Issue #9: Fix the typo");
    await fake.waitFor("👀 on the issue", () =>
      fake.reactions.some((r) => r.target === "issues/9"),
    );
    await fake.waitFor("the tracking comment", () => tracking(9).length === 1);
    await waitStatus(session.id, "idle");
  });

  it("an admin claims an installation for their org", async () => {
    const res = await stack.owner.request(
      "POST",
      `/api/github/installations/${INSTALLATION}/claim`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ installationId: INSTALLATION, repositories: [REPO] });
    const anonymous = await fetch(`${stack.base}/api/github/installations/${INSTALLATION}/claim`, {
      method: "POST",
    });
    expect(anonymous.status).toBe(401);
  });

  it("only the instance's operators hand an installation to another org, and nobody takes it away", async () => {
    const url = `/api/github/installations/${INSTALLATION}/claim`;
    const mallory = apiClient(stack.app, (await otherOrganization(stack.rt)).token);
    expect((await mallory.request("POST", url)).status).toBe(404); // another org's installation
    expect((await mallory.request("POST", "/api/github/installations/987654/claim")).status).toBe(
      404,
    ); // never installed
    // The default org's owner moves it to a new org of theirs…
    const labs = await stack.owner.request("POST", "/api/orgs", { name: "Labs" });
    const moved = await stack.owner.request("POST", url, undefined, {
      "x-tandem-org": labs.body.id,
    });
    expect(moved.status).toBe(200);
    expect(moved.body.orgId).toBe(labs.body.id);
    const [repo] = await stack.rt.database.db
      .select()
      .from(schema.repositories)
      .where(and(eq(schema.repositories.orgId, labs.body.id), eq(schema.repositories.name, REPO)));
    expect(repo?.installationId).not.toBeNull();
    // …from where another org's admin cannot claim it.
    expect((await mallory.request("POST", url)).status).toBe(404);
    // Back to the default org for the tests that follow.
    const installation = (
      await stack.rt.database.db
        .select()
        .from(schema.installations)
        .where(eq(schema.installations.provider, "github"))
    )[0]!;
    await stack.rt.database.db
      .update(schema.installations)
      .set({ orgId: stack.rt.defaultOrgId })
      .where(eq(schema.installations.id, installation.id));
  });
  it("lists the installations an admin may claim: the default org's for its owner, none for another org's admin", async () => {
    const url = "/api/github/installations";
    const owned = await stack.owner.request("GET", url);
    expect(owned.status).toBe(200);
    expect(owned.body.installations).toEqual([
      {
        installationId: INSTALLATION,
        account: "acme",
        orgId: stack.rt.defaultOrgId,
        orgName: expect.any(String),
        repositories: [REPO],
      },
    ]);
    const mallory = apiClient(stack.app, (await otherOrganization(stack.rt)).token);
    expect((await mallory.request("GET", url)).body).toEqual({ installations: [] });
    // Acting for another org of theirs, the default org's owner still sees the default org's installations.
    const labs = await stack.owner.request("POST", "/api/orgs", { name: "Labs 2" });
    const forLabs = await stack.owner.request("GET", url, undefined, {
      "x-tandem-org": labs.body.id,
    });
    expect(
      forLabs.body.installations.map((i: { installationId: number }) => i.installationId),
    ).toEqual([INSTALLATION]);
    expect((await fetch(`${stack.base}${url}`)).status).toBe(401);
  });
});
