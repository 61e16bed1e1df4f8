import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandAdapter, decryptSecret, schema, sessionUrl } from "@tandem/core";
import { FakeLinear } from "./fixtures/fake-linear.ts";
import type { GitHttpServer } from "./fixtures/git-http-server.ts";
import {
  agentSessionCreated,
  agentSessionPrompted,
  AGENT_USER_ID,
  commentCreated,
  HUMAN_USER_ID,
  issueUpdated,
  LINEAR_WEBHOOK_SECRET,
  ORG_ID,
  ORG_URL_KEY,
  postLinear,
} from "./helpers/linear.ts";
import { otherOrganization } from "./helpers/api.ts";
import { FakeGitHub } from "./fixtures/fake-github.ts";
import { appKeys, githubAppEnv, installGitHubApp } from "./helpers/github.ts";
import { startFakeGitHubApp, startInstallationGitServer } from "./helpers/github-app.ts";
import { startLinearStack, type LinearStack } from "./helpers/linear-stack.ts";
import { startStack, until, type Stack } from "./helpers/stack.ts";

const AGENT = ["node", new URL("./fixtures/slack-agent.mjs", import.meta.url).pathname];
const GIT = { username: "tandem-test", password: "test-git-password" };

describe("Linear: an agent session followed with activities", () => {
  let fake: FakeLinear;
  let git: GitHttpServer;
  let stack: Stack;

  const sessionOf = (agentSessionId: string) =>
    until(
      "the agent session's Tandem session",
      async () =>
        (
          await stack.rt.database.db
            .select({ session: schema.sessions })
            .from(schema.sessionBindings)
            .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
            .where(eq(schema.sessionBindings.threadKey, agentSessionId))
        )[0]?.session,
      20_000,
    );
  const waitStatus = (id: string, status: string) =>
    until(
      `the session ${status}`,
      async () =>
        (await stack.rt.database.db.query.sessions.findFirst({ where: eq(schema.sessions.id, id) }))
          ?.status === status,
      30_000,
    );
  /** A new issue with the agent session Linear opened on it, and the `created` webhook for it. */
  const mention = async (words: string) => {
    const issue = fake.addIssue({ title: "The greeting is too short" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    const sent = Date.now();
    const res = await postLinear(
      stack.base,
      agentSessionCreated({ agentSessionId, issue, comment: { body: `@tandem ${words}` } }),
    );
    expect(res.status).toBe(200);
    return { issue, agentSessionId, sent };
  };
  const activities = (agentSessionId: string) => fake.activitiesOf(agentSessionId);
  const finals = (agentSessionId: string) =>
    activities(agentSessionId).filter((a) =>
      ["response", "error", "elicitation"].includes(String(a.content.type)),
    );
  const settle = () => new Promise((r) => setTimeout(r, 1_500));

  let linear: LinearStack;
  beforeAll(async () => {
    linear = await startLinearStack({
      repos: {
        "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" },
        "acme/api": { "README.md": "# api\n" },
      },
    });
    ({ fake, git, stack } = linear);
  }, 60_000);
  afterAll(() => linear?.close());

  it("a mention: a thought first (well within Linear's 10 s), the View session link, the issue started, actions, then one response", async () => {
    const { issue, agentSessionId, sent } = await mention("please write some notes");
    await fake.waitFor("the first activity", () => activities(agentSessionId).length > 0, 10_000);
    const [first] = activities(agentSessionId);
    expect(first!.content).toEqual({ type: "thought", body: "Starting a sandbox for acme/app…" });
    expect(Date.parse(first!.createdAt) - sent).toBeLessThan(10_000);

    const session = await sessionOf(agentSessionId);
    const url = sessionUrl(stack.rt.config.PUBLIC_URL, session.id);
    await fake.waitFor(
      "the link",
      () => (fake.sessionOf(agentSessionId)?.externalUrls.length ?? 0) > 0,
    );
    // The workbench links back to the Linear issue.
    const shown = await stack.owner.request("GET", `/api/sessions/${session.id}`);
    expect(shown.body.origin).toEqual({ provider: "linear", url: issue.url });
    expect(fake.sessionOf(agentSessionId)!.externalUrls).toEqual([{ label: "View session", url }]);
    await fake.waitFor("the issue started", () => fake.stateOf(issue).type === "started");
    // The team's first started state (the lowest position), not any started state.
    const firstStarted = fake.defaultTeam.states
      .filter((s) => s.type === "started")
      .sort((a, b) => a.position - b.position)[0]!;
    expect(fake.stateOf(issue).id).toBe(firstStarted.id);

    await waitStatus(session.id, "idle");
    await fake.waitFor("the response", () => finals(agentSessionId).length > 0);
    await settle();
    const all = activities(agentSessionId);
    const read = all.find(
      (a) => a.content.type === "action" && a.content.parameter === "cat README.md",
    );
    expect(read).toMatchObject({ ephemeral: true, content: { action: "Ran" } });
    const wrote = all.find(
      (a) => a.content.type === "action" && a.content.parameter === "notes.txt",
    );
    expect(wrote).toMatchObject({ ephemeral: false, content: { action: "Created" } });
    expect(finals(agentSessionId)).toHaveLength(1);
    const [response] = finals(agentSessionId);
    expect(response!.content.type).toBe("response");
    expect(response!.content.body).toContain("Done: @tandem please write some notes");
    expect(response!.content.body).toContain("**1 file changed**");
    expect(response!.content.body).toContain(`[View session](${url})`);
    // The final activity is the last one.
    expect(all.at(-1)).toBe(response);
  });

  it("a prompt in the agent session is a second turn of the same session, answered once more", async () => {
    const { agentSessionId } = await mention("please write some notes");
    const session = await sessionOf(agentSessionId);
    await waitStatus(session.id, "idle");
    await fake.waitFor("the first response", () => finals(agentSessionId).length === 1);
    const res = await postLinear(
      stack.base,
      agentSessionPrompted({ agentSessionId, body: "and one more note" }),
    );
    expect(res.status).toBe(200);
    await fake.waitFor("the second response", () => finals(agentSessionId).length === 2, 20_000);
    expect(finals(agentSessionId)[1]!.content.body).toContain("Done: and one more note");
    await settle();
    expect(finals(agentSessionId)).toHaveLength(2);
  });

  it("Linear's stop signal stops the running turn with exactly one final activity", async () => {
    const { agentSessionId } = await mention("be slow about it");
    const session = await sessionOf(agentSessionId);
    await waitStatus(session.id, "running");
    const res = await postLinear(
      stack.base,
      agentSessionPrompted({ agentSessionId, body: "Stop", signal: "stop" }),
    );
    expect(res.status).toBe(200);
    await waitStatus(session.id, "stopped");
    await fake.waitFor("the final activity", () => finals(agentSessionId).length > 0, 5_000);
    await settle();
    expect(finals(agentSessionId).map((a) => a.content.type)).toEqual(["response"]);
    expect(finals(agentSessionId)[0]!.content.body).toMatch(/^Stopped\./);
  });

  it("the agent's plan becomes the agent session's plan", async () => {
    const { agentSessionId } = await mention("make a plan first");
    await fake.waitFor("the plan", () => fake.sessionOf(agentSessionId)?.plan != null);
    expect(fake.sessionOf(agentSessionId)!.plan).toEqual([
      { content: "Read the code", status: "completed" },
      { content: "Write the notes", status: "inProgress" },
      { content: "Check them", status: "pending" },
    ]);
  });

  it("Stop in the workbench ends the Linear session with exactly one final activity too", async () => {
    const { agentSessionId } = await mention("be slow about it");
    const session = await sessionOf(agentSessionId);
    await waitStatus(session.id, "running");
    expect((await stack.owner.request("POST", `/api/sessions/${session.id}/stop`)).status).toBe(
      200,
    );
    await fake.waitFor("the final activity", () => finals(agentSessionId).length > 0, 5_000);
    await settle();
    expect(finals(agentSessionId).map((a) => a.content.type)).toEqual(["response"]);
    expect(finals(agentSessionId)[0]!.content.body).toMatch(/^Stopped\./);
  });

  it("a failed turn ends with one error activity carrying the reason", async () => {
    const { agentSessionId } = await mention("please fail");
    const session = await sessionOf(agentSessionId);
    await fake.waitFor("the error", () => finals(agentSessionId).length > 0, 20_000);
    await settle();
    expect(finals(agentSessionId)).toHaveLength(1);
    expect(finals(agentSessionId)[0]!.content).toMatchObject({ type: "error" });
    expect(String(finals(agentSessionId)[0]!.content.body)).toContain(
      "The turn failed: the model refused to continue",
    );
    // The session lives on: a prompt can try again.
    expect(
      (
        await stack.rt.database.db.query.sessions.findFirst({
          where: eq(schema.sessions.id, session.id),
        })
      )?.status,
    ).toBe("idle");
  });

  it("an agent that ends on a question ends the turn with an elicitation", async () => {
    const { agentSessionId } = await mention("which greeting do you prefer?");
    await fake.waitFor("the final activity", () => finals(agentSessionId).length > 0, 20_000);
    expect(finals(agentSessionId).map((a) => a.content.type)).toEqual(["elicitation"]);
  });

  it("a stale or badly signed webhook is refused with 401 and nothing is stored or sent", async () => {
    const issue = fake.addIssue({ title: "Stale" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    const before = fake.calls.length;
    const stale = await postLinear(
      stack.base,
      agentSessionCreated({ agentSessionId, issue, webhookTimestamp: Date.now() - 5 * 60_000 }),
    );
    expect(stale.status).toBe(401);
    expect(stale.text).toContain("webhookTimestamp");
    const unsigned = await postLinear(stack.base, agentSessionCreated({ agentSessionId, issue }), {
      signature: "",
    });
    expect(unsigned.status).toBe(401);
    await settle();
    const stored = await stack.rt.database.db.query.inboundEvents.findMany({
      where: eq(schema.inboundEvents.provider, "linear"),
    });
    expect(stored.some((e) => JSON.stringify(e.payload).includes(agentSessionId))).toBe(false);
    expect(fake.calls.length).toBe(before);
  });

  it("several repositories and none named: a select elicitation; a wrong answer asks again, the pick starts the work and is kept for the issue", async () => {
    const res = await stack.owner.request("POST", "/api/repositories", {
      name: "acme/api",
      cloneUrl: git.url("acme/api"),
      defaultBranch: "main",
      credential: GIT,
    });
    expect(res.status).toBe(201);
    const { agentSessionId, issue } = await mention("please write some notes");
    const asks = () => activities(agentSessionId).filter((a) => a.content.type === "elicitation");
    await fake.waitFor("the question", () => asks().length === 1);
    expect(asks()[0]).toMatchObject({
      signal: "select",
      signalMetadata: { options: [{ value: "acme/api" }, { value: "acme/app" }] },
    });
    await postLinear(stack.base, agentSessionPrompted({ agentSessionId, body: "the blue one" }));
    await fake.waitFor("the question again", () => asks().length === 2);
    expect(asks()[1]!.content.body).toContain('"the blue one" is not one of the repositories');
    await postLinear(stack.base, agentSessionPrompted({ agentSessionId, body: "acme/api" }));
    const session = await sessionOf(agentSessionId);
    const repo = await stack.rt.database.db.query.repositories.findFirst({
      where: eq(schema.repositories.id, session.repositoryId!),
    });
    expect(repo?.name).toBe("acme/api");
    await waitStatus(session.id, "idle");
    await fake.waitFor("the response", () =>
      activities(agentSessionId).some((a) => a.content.type === "response"),
    );
    // The choice is kept for the issue: the next mention there starts on acme/api, unasked.
    const again = fake.addSession({ issueId: issue.id }).id;
    await postLinear(
      stack.base,
      agentSessionCreated({ agentSessionId: again, issue, comment: { body: "@tandem once more" } }),
    );
    const next = await sessionOf(again);
    expect(next.repositoryId).toBe(session.repositoryId);
    await waitStatus(next.id, "idle");
    expect(activities(again).filter((a) => a.content.type === "elicitation")).toEqual([]);
  });

  it("with several repositories and none named, Linear's suggestion is taken when it is clearly ahead, not when it is close", async () => {
    fake.repositorySuggestions = [
      { repositoryFullName: "acme/api", confidence: 0.93 },
      { repositoryFullName: "acme/app", confidence: 0.31 },
    ];
    const sure = await mention("please write some notes");
    const session = await sessionOf(sure.agentSessionId);
    const repo = await stack.rt.database.db.query.repositories.findFirst({
      where: eq(schema.repositories.id, session.repositoryId!),
    });
    expect(repo?.name).toBe("acme/api");
    const asked = fake.callsTo("issueRepositorySuggestions").at(-1)!;
    expect(asked.variables).toMatchObject({
      issueId: sure.issue.id,
      agentSessionId: sure.agentSessionId,
    });
    expect(activities(sure.agentSessionId).filter((a) => a.content.type === "elicitation")).toEqual(
      [],
    );

    fake.repositorySuggestions = [
      { repositoryFullName: "acme/api", confidence: 0.85 },
      { repositoryFullName: "acme/app", confidence: 0.8 },
    ];
    const close = await mention("please write some notes");
    await fake.waitFor("the question", () =>
      activities(close.agentSessionId).some((a) => a.content.type === "elicitation"),
    );
    fake.repositorySuggestions = [];
  });

  it("Settings: the connected workspace, its teams and projects; a project's or team's default repository is used for its issues", async () => {
    const listed = await stack.owner.request("GET", "/api/linear");
    expect(listed.status).toBe(200);
    const team = fake.defaultTeam;
    expect(listed.body).toMatchObject({
      installUrl: null,
      workspaces: [
        {
          id: ORG_ID,
          connectedWith: "api key",
          teams: [{ id: team.id, key: "ENG", name: "Engineering", repository: null }],
        },
      ],
    });
    const set = (repository: string | null) =>
      stack.owner.request("PUT", `/api/linear/workspaces/${ORG_ID}/teams/${team.id}`, {
        repository,
      });
    expect((await set("acme/nope")).status).toBe(400);
    expect((await set("acme/app")).status).toBe(200);
    expect(
      (await stack.owner.request("GET", "/api/linear")).body.workspaces[0].teams[0].repository,
    ).toBe("acme/app");
    const other = await otherOrganization(stack.rt);
    const theirs = await fetch(`${stack.base}/api/linear/workspaces/${ORG_ID}/teams/${team.id}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${other.token}`, "content-type": "application/json" },
      body: JSON.stringify({ repository: null }),
    });
    expect(theirs.status).toBe(404);

    // Two repositories, none named, no suggestion: the team's default.
    const repoOf = async (agentSessionId: string) => {
      const session = await sessionOf(agentSessionId);
      return (
        await stack.rt.database.db.query.repositories.findFirst({
          where: eq(schema.repositories.id, session.repositoryId!),
        })
      )?.name;
    };
    expect(await repoOf((await mention("please write some notes")).agentSessionId)).toBe(
      "acme/app",
    );

    // A project's default wins over its team's, for the project's issues.
    const project = fake.addProject({ name: "API work" });
    expect(
      (
        await stack.owner.request(
          "PUT",
          `/api/linear/workspaces/${ORG_ID}/projects/${project.id}`,
          {
            repository: "acme/api",
          },
        )
      ).status,
    ).toBe(200);
    expect((await stack.owner.request("GET", "/api/linear")).body.workspaces[0].projects).toEqual([
      { id: project.id, name: "API work", repository: "acme/api" },
    ]);
    const inProject = fake.addIssue({ title: "In the project", projectId: project.id });
    const agentSessionId = fake.addSession({ issueId: inProject.id }).id;
    await postLinear(
      stack.base,
      agentSessionCreated({
        agentSessionId,
        issue: inProject,
        comment: { body: "@tandem please look" },
      }),
    );
    expect(await repoOf(agentSessionId)).toBe("acme/api");
    expect((await set(null)).status).toBe(200);
  });
});

describe("Linear: one human action, one session, however many webhooks", () => {
  let fake: FakeLinear;
  let stack: Stack;

  const sessionsOn = async (agentSessionIds: string[]) =>
    (
      await stack.rt.database.db
        .select({ id: schema.sessionBindings.sessionId, key: schema.sessionBindings.threadKey })
        .from(schema.sessionBindings)
        .where(eq(schema.sessionBindings.provider, "linear"))
    ).filter((b) => agentSessionIds.includes(b.key));
  const allLinearSessions = async () =>
    (
      await stack.rt.database.db
        .select({ id: schema.sessions.id })
        .from(schema.sessions)
        .where(eq(schema.sessions.source, "linear"))
    ).length;
  const post = async (payload: unknown) =>
    expect((await postLinear(stack.base, payload)).status).toBe(200);
  /** An issue whose comment mentions the agent, and the agent session Linear opened for it. */
  const mentionIn = (title: string, body = "@tandem please look") => {
    const issue = fake.addIssue({ title });
    const comment = fake.addComment({ issueId: issue.id, body });
    const agentSessionId = fake.addSession({ issueId: issue.id, commentId: comment.id }).id;
    return { issue, comment, agentSessionId };
  };
  type Mention = ReturnType<typeof mentionIn>;
  const sessionEvent = (m: Mention) =>
    post(
      agentSessionCreated({
        agentSessionId: m.agentSessionId,
        issue: m.issue,
        comment: { id: m.comment.id, body: m.comment.body },
      }),
    );
  const commentEvent = (m: Mention) =>
    post(
      commentCreated({
        issueId: m.issue.id,
        body: m.comment.body,
        userId: HUMAN_USER_ID,
        commentId: m.comment.id,
        issue: m.issue,
      }),
    );
  const boundOnce = (m: Mention) =>
    until("the session", async () => (await sessionsOn([m.agentSessionId])).length === 1, 20_000);
  /** Past the companion wait, with the worker's retries done. */
  const afterTheWait = () => new Promise((r) => setTimeout(r, 9_000));

  let linear: LinearStack;
  beforeAll(async () => {
    linear = await startLinearStack();
    ({ fake, stack } = linear);
  }, 60_000);
  afterAll(() => linear?.close());

  it("a mention in a comment, delegated too: the comment, the issue update and the agent session make one session", async () => {
    const m = mentionIn("Three webhooks");
    const before = await allLinearSessions();
    // Linear's order varies: the data webhooks first here, the agent session event last.
    await commentEvent(m);
    await post(
      issueUpdated({
        issue: { ...m.issue, delegateId: AGENT_USER_ID },
        updatedFrom: { delegateId: null },
      }),
    );
    await sessionEvent(m);
    await boundOnce(m);
    await afterTheWait();
    expect(await allLinearSessions()).toBe(before + 1);
    expect(fake.opened).toEqual([]);
  });

  it("the agent session event first, then the comment: still one session", async () => {
    const m = mentionIn("Event first");
    const before = await allLinearSessions();
    await sessionEvent(m);
    await boundOnce(m);
    await commentEvent(m);
    await afterTheWait();
    expect(await allLinearSessions()).toBe(before + 1);
    expect(fake.opened).toEqual([]);
  });

  it("a comment mention with no agent session event (Linear's agent events off): Tandem opens the agent session itself, once", async () => {
    const issue = fake.addIssue({ title: "No agent events" });
    const comment = fake.addComment({ issueId: issue.id, body: "@tandem please write some notes" });
    const before = await allLinearSessions();
    const opened = fake.opened.length;
    await post(
      commentCreated({
        issueId: issue.id,
        body: comment.body,
        userId: HUMAN_USER_ID,
        commentId: comment.id,
        issue,
      }),
    );
    await fake.waitFor(
      "an agent session opened by Tandem",
      () => fake.opened.length === opened + 1,
      20_000,
    );
    const agentSessionId = fake.opened.at(-1)!;
    expect(fake.sessionOf(agentSessionId)?.commentId).toBe(comment.id);
    await fake.waitFor("the thought in it", () =>
      fake.activitiesOf(agentSessionId).some((a) => a.content.type === "thought"),
    );
    await fake.waitFor("the response in it", () =>
      fake.activitiesOf(agentSessionId).some((a) => a.content.type === "response"),
    );
    expect(await allLinearSessions()).toBe(before + 1);
    expect(fake.opened.length).toBe(opened + 1);
  });

  it("comments by the agent itself, comments without a mention and assignments to others start nothing", async () => {
    const issue = fake.addIssue({ title: "Nothing to do" });
    const before = await allLinearSessions();
    const opened = fake.opened.length;
    await post(
      commentCreated({ issueId: issue.id, body: "@tandem done", userId: AGENT_USER_ID, issue }),
    );
    await post(
      commentCreated({ issueId: issue.id, body: "just a note", userId: HUMAN_USER_ID, issue }),
    );
    await post(
      issueUpdated({
        issue: { ...issue, assigneeId: HUMAN_USER_ID },
        updatedFrom: { assigneeId: null },
      }),
    );
    await afterTheWait();
    expect(await allLinearSessions()).toBe(before);
    expect(fake.opened.length).toBe(opened);
  });
});

describe("Linear: the OAuth install, as the agent", () => {
  const CLIENT = {
    clientId: "tandem-test-linear-client",
    clientSecret: "test-linear-client-secret",
  };
  let fake: FakeLinear;
  let stack: Stack;

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.base}${path}`, { headers, redirect: "manual" });
  /** /linear/install as `token`'s user: the state and the browser's nonce cookie. */
  const install = async (token: string) => {
    const res = await get("/linear/install", { authorization: `Bearer ${token}` });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
    return { location, cookie, state: location.searchParams.get("state")! };
  };
  const callback = (q: Record<string, string>, cookie?: string) =>
    get(`/linear/oauth/callback?${new URLSearchParams(q)}`, cookie ? { cookie } : {});
  const installation = () =>
    stack.rt.database.db.query.installations.findFirst({
      where: (i, { and, eq }) => and(eq(i.provider, "linear"), eq(i.externalId, ORG_ID)),
    });

  let linear: LinearStack;
  beforeAll(async () => {
    fake = await new FakeLinear({ oauthClient: CLIENT }).listen();
    // Only tokens the install got are good: every call after it must carry the stored one.
    fake.acceptedTokens = new Set();
    linear = await startLinearStack({
      fake,
      noApiKey: true,
      env: {
        LINEAR_CLIENT_ID: CLIENT.clientId,
        LINEAR_CLIENT_SECRET: CLIENT.clientSecret,
        LINEAR_AUTHORIZE_URL: `${fake.baseUrl}/oauth/authorize`,
      },
    });
    ({ stack } = linear);
  }, 60_000);
  afterAll(() => linear?.close());

  it("before the install, a webhook from the workspace starts nothing", async () => {
    const issue = fake.addIssue({ title: "Not installed" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    expect(
      (await postLinear(stack.base, agentSessionCreated({ agentSessionId, issue }))).status,
    ).toBe(200);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(fake.activitiesOf(agentSessionId)).toEqual([]);
    expect(await installation()).toBeUndefined();
  });

  it("an admin installs: Linear is asked for the agent's scopes as the app, and the token is stored encrypted", async () => {
    expect((await get("/linear/install")).status).toBe(401);
    const { location, cookie, state } = await install(stack.owner.token);
    expect(`${location.origin}${location.pathname}`).toBe(`${fake.baseUrl}/oauth/authorize`);
    expect(Object.fromEntries(location.searchParams)).toMatchObject({
      client_id: CLIENT.clientId,
      redirect_uri: `${stack.rt.config.PUBLIC_URL}/linear/oauth/callback`,
      response_type: "code",
      scope: "read,write,app:assignable,app:mentionable",
      actor: "app",
    });
    // Not from another browser (no cookie), not with a changed state.
    expect((await callback({ code: "c0", state })).status).toBe(400);
    const [payload] = state.split(".");
    expect((await callback({ code: "c0", state: `${payload}.forged` }, cookie)).status).toBe(400);
    expect(await installation()).toBeUndefined();

    const done = await callback({ code: "code-1", state }, cookie);
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Tandem is installed in Linear");
    const exchange = fake.calls.find(
      (c) => c.path === "/oauth/token" && c.variables.code === "code-1",
    )!;
    expect(exchange.variables).toMatchObject({
      grant_type: "authorization_code",
      redirect_uri: `${stack.rt.config.PUBLIC_URL}/linear/oauth/callback`,
    });
    const row = (await installation())!;
    expect(row.orgId).toBe(stack.rt.defaultOrgId);
    expect(row.data).toMatchObject({
      name: "Tandem Test",
      urlKey: ORG_URL_KEY,
      appUserId: AGENT_USER_ID,
    });
    const token = fake.issuedTokens.at(-1)!.accessToken;
    expect(row.credentialsEncrypted).not.toContain(token);
    expect(decryptSecret(stack.rt.config.ENCRYPTION_KEY, row.credentialsEncrypted!)).toContain(
      token,
    );
  });

  it("after the install, sessions answer in Linear with the workspace's token", async () => {
    const token = fake.issuedTokens.at(-1)!.accessToken;
    const issue = fake.addIssue({ title: "Installed" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    await postLinear(
      stack.base,
      agentSessionCreated({ agentSessionId, issue, comment: { body: "@tandem please look" } }),
    );
    await fake.waitFor(
      "the response",
      () => fake.activitiesOf(agentSessionId).some((a) => a.content.type === "response"),
      20_000,
    );
    const writes = fake.calls.filter(
      (c) =>
        c.rootFields.includes("agentActivityCreate") &&
        JSON.stringify(c.variables).includes(agentSessionId),
    );
    expect(writes.length).toBeGreaterThan(1);
    expect(new Set(writes.map((c) => c.authorization))).toEqual(new Set([`Bearer ${token}`]));
  });

  it("another org's admin cannot take the workspace over", async () => {
    const other = await otherOrganization(stack.rt);
    const { cookie, state } = await install(other.token);
    const res = await callback({ code: "code-2", state }, cookie);
    expect(res.status).toBe(409);
    expect((await installation())!.orgId).toBe(stack.rt.defaultOrgId);
  });
});

describe("Linear: the work leaves as a pull request when the GitHub App reaches the repository", () => {
  const INSTALLATION = 77;
  let fake: FakeLinear;
  let github: FakeGitHub;
  let git: GitHttpServer;
  let stack: Stack;

  beforeAll(async () => {
    const keys = appKeys();
    fake = await new FakeLinear().listen();
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
        LINEAR_API_URL: fake.url,
        LINEAR_API_KEY: "lin_api_test_key",
        LINEAR_WEBHOOK_SECRET,
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

  it("a Linear session's pushed branch gets a pull request; the response and the issue link it", async () => {
    const issue = fake.addIssue({ title: "Write the notes" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    await postLinear(
      stack.base,
      agentSessionCreated({
        agentSessionId,
        issue,
        comment: { body: "@tandem please write some notes" },
      }),
    );
    const response = () =>
      fake.activitiesOf(agentSessionId).find((a) => a.content.type === "response");
    await fake.waitFor("the response", () => response() !== undefined, 30_000);
    expect(github.pulls).toHaveLength(1);
    const [pull] = github.pulls;
    expect(pull).toMatchObject({
      repo: "acme/app",
      base: "main",
      title: "please write some notes",
    });
    expect(pull!.head).toMatch(/^tandem\//);
    expect(pull!.body).toContain(`For ${issue.url}`);
    expect(pull!.body).toContain("[View session](");
    expect(response()!.content.body).toContain(`Pull request: ${pull!.html_url}`);
    expect(fake.attachmentsOn(issue.id).map((a) => a.url)).toEqual([pull!.html_url]);
  });
});

describe("Linear: LINEAR_MOVE_TO_STARTED=false", () => {
  let linear: LinearStack;
  beforeAll(async () => {
    linear = await startLinearStack({ env: { LINEAR_MOVE_TO_STARTED: "false" } });
  }, 60_000);
  afterAll(() => linear?.close());

  it("leaves the issue's state alone", async () => {
    const { fake, stack } = linear;
    const issue = fake.addIssue({ title: "Leave my workflow alone" });
    const before = fake.stateOf(issue).id;
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    await postLinear(
      stack.base,
      agentSessionCreated({ agentSessionId, issue, comment: { body: "@tandem please look" } }),
    );
    await fake.waitFor("the response", () =>
      fake.activitiesOf(agentSessionId).some((a) => a.content.type === "response"),
    );
    expect(fake.stateOf(issue).id).toBe(before);
    expect(fake.callsTo("issueUpdate")).toEqual([]);
  });
});
