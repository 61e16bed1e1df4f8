import { createHmac } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandAdapter, schema, sessionUrl } from "@tandem/core";
import type { FakeJira, FakeJiraIssue } from "./fixtures/fake-jira.ts";
import { FakeGitHub } from "./fixtures/fake-github.ts";
import type { GitHttpServer } from "./fixtures/git-http-server.ts";
import { otherOrganization } from "./helpers/api.ts";
import { appKeys, githubAppEnv, installGitHubApp } from "./helpers/github.ts";
import { startFakeGitHubApp, startInstallationGitServer } from "./helpers/github-app.ts";
import {
  AGENT_ACCOUNT_ID,
  APP_ACCOUNT_ID,
  assigned,
  changeItem,
  commentCreated,
  HUMAN_ACCOUNT_ID,
  issueCreated,
  issueUpdated,
  JIRA_API_TOKEN,
  JIRA_EMAIL,
  JIRA_WEBHOOK_SECRET,
  labelsChanged,
  postJira,
  wikiMention,
} from "./helpers/jira.ts";
import { startJiraStack, type JiraStack } from "./helpers/jira-stack.ts";
import { startStack, until, type Stack } from "./helpers/stack.ts";
import { FakeJira as FakeJiraServer } from "./fixtures/fake-jira.ts";

const AGENT = ["node", new URL("./fixtures/slack-agent.mjs", import.meta.url).pathname];
const settle = () => new Promise((r) => setTimeout(r, 1_500));

/** What every describe needs of its stack: the issue's sessions and the tracking comment. */
function helpers(get: () => { stack: Stack; fake: FakeJira }) {
  const db = () => get().stack.rt.database.db;
  const keyOf = (issue: FakeJiraIssue) => `${new URL(get().fake.url).host}/${issue.key}`;
  const sessionsOf = async (issue: FakeJiraIssue) =>
    (
      await db()
        .select({ session: schema.sessions })
        .from(schema.sessionBindings)
        .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
        .where(
          and(
            eq(schema.sessionBindings.provider, "jira"),
            eq(schema.sessionBindings.threadKey, keyOf(issue)),
          ),
        )
    ).map((r) => r.session);
  const sessionOf = (issue: FakeJiraIssue) =>
    until("the issue's session", async () => (await sessionsOf(issue))[0], 20_000);
  const waitStatus = (id: string, status: string) =>
    until(
      `the session ${status}`,
      async () =>
        (await db().query.sessions.findFirst({ where: eq(schema.sessions.id, id) }))?.status ===
        status,
      30_000,
    );
  const text = (doc: unknown) => get().fake.textOf(doc);
  const tracking = (issue: FakeJiraIssue) =>
    get()
      .fake.commentsOn(issue.key)
      .filter((c) => text(c.body).includes("View session"));
  const commentsText = (issue: FakeJiraIssue) =>
    get()
      .fake.commentsOn(issue.key)
      .map((c) => text(c.current));
  const post = (payload: unknown, opts?: Parameters<typeof postJira>[2]) =>
    postJira(get().stack.base, payload, opts);
  const mention = (issue: FakeJiraIssue, words: string, o: { adf?: boolean } = {}) =>
    post(
      commentCreated({
        site: get().fake.url,
        issue,
        body: `${wikiMention(AGENT_ACCOUNT_ID)} ${words}`,
        ...o,
      }),
    );
  const inbox = () =>
    db().select().from(schema.inboundEvents).where(eq(schema.inboundEvents.provider, "jira"));
  return {
    db,
    sessionsOf,
    sessionOf,
    waitStatus,
    text,
    tracking,
    commentsText,
    post,
    mention,
    inbox,
  };
}

describe("Jira: mentions, assignments and the label start one session, reported in one comment", () => {
  let jira: JiraStack;
  const h = helpers(() => jira);

  beforeAll(async () => {
    jira = await startJiraStack({
      repos: {
        "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" },
        "acme/api": { "README.md": "# api\n" },
      },
    });
  }, 60_000);
  afterAll(() => jira?.close());

  it("a wiki-markup mention starts a session; its one comment, valid ADF, mentions the requester and links the session, then ends with the summary", async () => {
    const issue = jira.fake.addIssue({
      summary: "The greeting is too short",
      description: "Make it longer.",
    });
    const res = await h.mention(issue, "please write some notes");
    expect(res.status).toBe(200);
    const session = await h.sessionOf(issue);
    expect(session.prompt).toContain(`${issue.key}: The greeting is too short`);
    expect(session.prompt).toContain("Make it longer.");
    expect(session.prompt).toContain("please write some notes");
    expect(session.prompt).not.toContain("accountid");
    await h.waitStatus(session.id, "idle");
    const url = sessionUrl(jira.stack.rt.config.PUBLIC_URL, session.id);
    await until("the summary in the comment", async () =>
      h.tracking(issue).some((c) => /Done/.test(h.text(c.current))),
    );
    const [comment] = h.tracking(issue);
    expect(h.tracking(issue)).toHaveLength(1);
    // Every body the fake accepted is valid ADF (it refuses the rest with 400): none was refused.
    expect(jira.fake.calls.filter((c) => c.invalid)).toEqual([]);
    const current = JSON.stringify(comment!.current);
    expect(current).toContain(`"href":"${url}"`);
    expect(current).toContain(`"type":"mention"`);
    expect(current).toContain(HUMAN_ACCOUNT_ID);
    // Markdown reached Jira as nodes, not as raw markup.
    expect(current).not.toMatch(/\*\*|\]\(http|<sub>/);
    expect(h.text(comment!.current)).toMatch(/notes\.txt/);
    expect(comment!.edits.length).toBeGreaterThan(0);
  });

  it("an ADF mention node starts a session too", async () => {
    const issue = jira.fake.addIssue({ summary: "ADF comments" });
    expect((await h.mention(issue, "please write some notes", { adf: true })).status).toBe(200);
    const session = await h.sessionOf(issue);
    expect(session.prompt).toContain("please write some notes");
    await h.waitStatus(session.id, "idle");
  });

  it("comments without the mention, by the agent, by an app account or by a service-desk customer start nothing and call nothing", async () => {
    const issue = jira.fake.addIssue({ summary: "Leave me be" });
    const site = jira.fake.url;
    const before = jira.fake.calls.length;
    const statuses = [
      (await h.post(commentCreated({ site, issue, body: "just chatting about notes" }))).status,
      (
        await h.post(
          commentCreated({
            site,
            issue,
            body: `${wikiMention(AGENT_ACCOUNT_ID)} write`,
            author: AGENT_ACCOUNT_ID,
          }),
        )
      ).status,
      (
        await h.post(
          commentCreated({
            site,
            issue,
            body: `${wikiMention(AGENT_ACCOUNT_ID)} write`,
            author: APP_ACCOUNT_ID,
            accountType: "app",
          }),
        )
      ).status,
      (
        await h.post(
          commentCreated({
            site,
            issue,
            body: `${wikiMention(AGENT_ACCOUNT_ID)} write`,
            accountType: "customer",
          }),
        )
      ).status,
    ];
    expect(statuses).toEqual([200, 200, 200, 200]);
    await settle();
    expect(await h.sessionsOf(issue)).toEqual([]);
    expect(jira.fake.calls.slice(before).filter((c) => c.path.includes(issue.key))).toEqual([]);
  });

  it("assignment is read from the changelog: the agent assigned starts a session; an edit of an issue it already has, or assigning someone else, does not", async () => {
    const site = jira.fake.url;
    const trap = jira.fake.addIssue({ summary: "Already the agent's", assignee: AGENT_ACCOUNT_ID });
    await h.post(
      issueUpdated({
        site,
        issue: trap,
        items: [changeItem("summary", "Old", "Already the agent's")],
        assignee: AGENT_ACCOUNT_ID,
      }),
    );
    const other = jira.fake.addIssue({ summary: "For a human" });
    await h.post(assigned({ site, issue: other, to: HUMAN_ACCOUNT_ID }));
    const handed = jira.fake.addIssue({ summary: "Write the notes" });
    expect(
      (await h.post(assigned({ site, issue: handed, from: null, to: AGENT_ACCOUNT_ID }))).status,
    ).toBe(200);
    const session = await h.sessionOf(handed);
    expect(session.prompt).toContain(`${handed.key}: Write the notes`);
    await h.waitStatus(session.id, "idle");
    expect(await h.sessionsOf(trap)).toEqual([]);
    expect(await h.sessionsOf(other)).toEqual([]);
  });

  it("the trigger label, added on create or on update, starts a session; another label or one already there does not", async () => {
    const site = jira.fake.url;
    const created = jira.fake.addIssue({ summary: "Labelled at birth", labels: ["tandem"] });
    await h.post(issueCreated({ site, issue: created }));
    const updated = jira.fake.addIssue({ summary: "Labelled later", labels: ["bug"] });
    jira.fake.setLabels(updated.key, ["bug", "tandem"]);
    await h.post(labelsChanged({ site, issue: updated, from: ["bug"], to: ["bug", "tandem"] }));
    const unrelated = jira.fake.addIssue({ summary: "Some other label", labels: ["tandem"] });
    await h.post(
      labelsChanged({ site, issue: unrelated, from: ["tandem"], to: ["tandem", "backend"] }),
    );
    const plain = jira.fake.addIssue({ summary: "Created without it", labels: ["bug"] });
    await h.post(issueCreated({ site, issue: plain }));
    for (const issue of [created, updated]) {
      const session = await h.sessionOf(issue);
      await h.waitStatus(session.id, "idle");
    }
    await settle();
    expect(await h.sessionsOf(unrelated)).toEqual([]);
    expect(await h.sessionsOf(plain)).toEqual([]);
  });

  it("Jira's retry of a delivery (same X-Atlassian-Webhook-Identifier, even much later) makes one session", async () => {
    const issue = jira.fake.addIssue({ summary: "Retried" });
    const payload = commentCreated({
      site: jira.fake.url,
      issue,
      body: `${wikiMention(AGENT_ACCOUNT_ID)} please write some notes`,
    });
    const first = await h.post(payload);
    const session = await h.sessionOf(issue);
    await h.waitStatus(session.id, "idle");
    const again = await h.post(payload, { identifier: first.identifier, retry: 1 });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true });
    await settle();
    expect(await h.sessionsOf(issue)).toHaveLength(1);
    expect(h.tracking(issue)).toHaveLength(1);
  });

  it("with the secret set, an unsigned or wrongly signed delivery is 401 and nothing is stored", async () => {
    const issue = jira.fake.addIssue({ summary: "Forged" });
    const before = (await h.inbox()).length;
    const payload = commentCreated({
      site: jira.fake.url,
      issue,
      body: `${wikiMention(AGENT_ACCOUNT_ID)} please write`,
    });
    const unsigned = await h.post(payload, { secret: null });
    expect(unsigned.status).toBe(401);
    expect(JSON.stringify(unsigned.body)).toMatch(/X-Hub-Signature is missing/);
    const wrong = await h.post(payload, { secret: "not-the-secret" });
    expect(wrong.status).toBe(401);
    await settle();
    expect((await h.inbox()).length).toBe(before);
    expect(await h.sessionsOf(issue)).toEqual([]);
  });

  it("a body that is not JSON is a 400 with a message, after the signature", async () => {
    const body = "{not json";
    const signature = `sha256=${createHmac("sha256", JIRA_WEBHOOK_SECRET).update(body).digest("hex")}`;
    const res = await fetch(`${jira.stack.base}/hooks/jira`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-hub-signature": signature,
        "x-atlassian-webhook-identifier": "not-json-1",
      },
      body,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/JSON/);
  });

  it("a mention while the issue's session lives is a follow-up turn; 'stop' stops it; after that a mention starts a new session", async () => {
    const issue = jira.fake.addIssue({ summary: "Keep going" });
    await h.mention(issue, "please write some notes");
    const session = await h.sessionOf(issue);
    await h.waitStatus(session.id, "idle");
    await h.mention(issue, "and be slow about it");
    await until("the second turn", async () => {
      const turns = await h
        .db()
        .select()
        .from(schema.sessionTurns)
        .where(eq(schema.sessionTurns.sessionId, session.id));
      return turns.length === 2;
    });
    await h.waitStatus(session.id, "running");
    await h.mention(issue, "stop");
    await h.waitStatus(session.id, "stopped");
    await until("the comment says stopped", async () =>
      h.tracking(issue).some((c) => /Stopped/.test(h.text(c.current))),
    );
    await h.mention(issue, "please write some notes again");
    await until("a new session", async () => {
      const [now] = await h.sessionsOf(issue);
      return now && now.id !== session.id ? now : undefined;
    });
  });
});

describe("Jira: which repository", () => {
  let jira: JiraStack;
  const h = helpers(() => jira);

  beforeAll(async () => {
    jira = await startJiraStack({
      repos: {
        "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" },
        "acme/api": { "README.md": "# api\n" },
      },
      registered: ["acme/app", "acme/api"],
    });
  }, 60_000);
  afterAll(() => jira?.close());

  it("several repositories and none named: a comment asks which, chatter is left alone, and the reply that names one starts the waiting request", async () => {
    const issue = jira.fake.addIssue({ summary: "Which one?" });
    await h.mention(issue, "please write some notes");
    await until("the question", async () =>
      h.commentsText(issue).some((t) => /Which repository/.test(t)),
    );
    const question = jira.fake.commentsOn(issue.key).at(-1)!;
    expect(JSON.stringify(question.current)).toContain(HUMAN_ACCOUNT_ID);
    expect(h.text(question.current)).toContain("acme/app");
    expect(h.text(question.current)).toContain("acme/api");
    expect(await h.sessionsOf(issue)).toEqual([]);
    const site = jira.fake.url;
    await h.post(commentCreated({ site, issue, body: "I think this is a good idea" }));
    await settle();
    expect(await h.sessionsOf(issue)).toEqual([]);
    expect(jira.fake.commentsOn(issue.key)).toHaveLength(1);
    await h.post(commentCreated({ site, issue, body: "acme/api please" }));
    const session = await h.sessionOf(issue);
    const repo = await h
      .db()
      .query.repositories.findFirst({ where: eq(schema.repositories.id, session.repositoryId) });
    expect(repo?.name).toBe("acme/api");
    expect(session.prompt).toContain("please write some notes");
    await h.waitStatus(session.id, "idle");
  });

  const repoOf = async (issue: FakeJiraIssue) => {
    const session = await h.sessionOf(issue);
    await h.waitStatus(session.id, "idle");
    return (
      await h
        .db()
        .query.repositories.findFirst({ where: eq(schema.repositories.id, session.repositoryId) })
    )?.name;
  };

  it("owner/name in the comment (or the issue) picks the repository without asking", async () => {
    const issue = jira.fake.addIssue({ summary: "Fix acme/api's notes" });
    await h.mention(issue, "please write some notes");
    expect(await repoOf(issue)).toBe("acme/api");
    const other = jira.fake.addIssue({ summary: "Notes" });
    await h.mention(other, "please write some notes in acme/app");
    expect(await repoOf(other)).toBe("acme/app");
  });

  it("Settings: the site, the agent's account, the webhook, and each project's default repository, used for its issues", async () => {
    jira.fake.addProject("OPS", "Operations");
    const listed = await jira.stack.owner.request("GET", "/api/jira");
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({
      site: {
        url: jira.fake.url,
        agent: { accountId: AGENT_ACCOUNT_ID },
        webhookUrl: `${jira.stack.rt.config.PUBLIC_URL}/hooks/jira`,
        triggerLabel: "tandem",
        problem: null,
      },
    });
    expect(listed.body.projects).toContainEqual({
      key: "OPS",
      name: "Operations",
      repository: null,
    });
    const set = (repository: string | null) =>
      jira.stack.owner.request("PUT", "/api/jira/projects/OPS", { repository });
    expect((await set("acme/nope")).status).toBe(400);
    expect(
      (await jira.stack.owner.request("PUT", "/api/jira/projects/OPS", { repo: 1 })).status,
    ).toBe(400);
    expect((await set("acme/api")).status).toBe(200);
    const again = await jira.stack.owner.request("GET", "/api/jira");
    expect(again.body.projects).toContainEqual({
      key: "OPS",
      name: "Operations",
      repository: "acme/api",
    });
    const other = await otherOrganization(jira.stack.rt);
    const theirs = await fetch(`${jira.stack.base}/api/jira/projects/OPS`, {
      method: "PUT",
      headers: { authorization: `Bearer ${other.token}`, "content-type": "application/json" },
      body: JSON.stringify({ repository: null }),
    });
    expect(theirs.status).toBe(404);
    const seen = await fetch(`${jira.stack.base}/api/jira`, {
      headers: { authorization: `Bearer ${other.token}` },
    });
    expect(await seen.json()).toEqual({ site: null, projects: [] });

    const issue = jira.fake.addIssue({ summary: "An ops chore", projectKey: "OPS" });
    await h.mention(issue, "please write some notes");
    expect(await repoOf(issue)).toBe("acme/api");
  });
});

describe("Jira: the work leaves as a pull request when the GitHub App reaches the repository", () => {
  const INSTALLATION = 78;
  let fake: FakeJira;
  let github: FakeGitHub;
  let git: GitHttpServer;
  let stack: Stack;
  const h = helpers(() => ({ stack, fake }));

  beforeAll(async () => {
    const keys = appKeys();
    fake = await new FakeJiraServer({ email: JIRA_EMAIL, apiToken: JIRA_API_TOKEN }).listen();
    github = await startFakeGitHubApp(keys);
    git = await startInstallationGitServer(github);
    git.createRepo("acme/app", { "README.md": "# app\n", "hello.txt": "hello\n" });
    github.installations.set(INSTALLATION, [
      {
        name: "app",
        full_name: "acme/app",
        clone_url: git.url("acme/app"),
        default_branch: "main",
      },
    ]);
    stack = await startStack(
      "postgres",
      {
        ...githubAppEnv(github.url, keys.privateKey),
        JIRA_BASE_URL: fake.url,
        JIRA_EMAIL,
        JIRA_API_TOKEN,
        JIRA_WEBHOOK_SECRET,
        JIRA_MOVE_TO_IN_PROGRESS: "true",
        SANDBOX_PROVIDER: "local",
      },
      { agent: commandAdapter(AGENT) },
    );
    await installGitHubApp(stack, {
      installationId: INSTALLATION,
      account: "acme",
      repo: "acme/app",
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await git?.close();
    await github?.close();
    await fake?.close();
  });

  it("the pushed branch gets a pull request titled with the issue key, linked in the comment; the issue moves to In Progress", async () => {
    const issue = fake.addIssue({ summary: "Write the notes" });
    await h.mention(issue, "please write some notes");
    const session = await h.sessionOf(issue);
    await h.waitStatus(session.id, "idle");
    await until("the pull request in the comment", async () =>
      h.tracking(issue).some((c) => h.text(c.current).includes("Pull request")),
    );
    expect(github.pulls).toHaveLength(1);
    const [pull] = github.pulls;
    expect(pull!.title).toBe(`${issue.key}: Write the notes`);
    expect(pull!.body).toContain(`For ${fake.url}/browse/${issue.key}`);
    const [comment] = h.tracking(issue);
    expect(h.text(comment!.current)).toContain(pull!.html_url);
    expect(JSON.stringify(comment!.current)).toContain(`"href":"${pull!.html_url}"`);
    expect(fake.issue(issue.key)!.fields.status.name).toBe("In Progress");
    expect(fake.callsTo("POST", /\/transitions$/)).toHaveLength(1);
  });
});
