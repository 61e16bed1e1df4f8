import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  AgentActivitySignal,
  AuthenticationLinearError,
  GraphqlLinearError,
  InternalLinearError,
  InvalidInputLinearError,
  LinearClient,
  RatelimitedLinearError,
} from "@linear/sdk";
import { LinearWebhookClient, type LinearWebhookPayload } from "@linear/sdk/webhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeLinear } from "./fixtures/fake-linear.ts";
import {
  AGENT_USER_ID,
  agentSessionCreated,
  agentSessionPrompted,
  commentCreated,
  HUMAN_USER_ID,
  issueUpdated,
  LINEAR_WEBHOOK_SECRET,
  linearHeaders,
  OAUTH_CLIENT_ID,
  ORG_ID,
  ORG_URL_KEY,
  postLinear,
} from "./helpers/linear.ts";

// The fake Linear API and the webhook helpers, checked with the real @linear/sdk: every SDK
// method the Linear provider uses round-trips through the fake and is recorded with the
// variables it sent, and the webhook bodies verify with the SDK's own LinearWebhookClient.

let fake: FakeLinear;
let client: LinearClient;

beforeEach(async () => {
  fake = await new FakeLinear().listen();
  client = new LinearClient({ apiKey: "lin_api_test_key", apiUrl: fake.url });
});
afterEach(() => fake.close());

/** The one call with this operation name (the SDK names operations after its methods). */
const only = (operationName: string) => {
  const found = fake.calls.filter((c) => c.operationName === operationName);
  expect(found, `calls named ${operationName}`).toHaveLength(1);
  return found[0]!;
};

describe("fake Linear GraphQL with the real LinearClient", () => {
  it("answers viewer (the app user) and organization, recording the API key as sent", async () => {
    const viewer = await client.viewer;
    expect(viewer).toMatchObject({ id: AGENT_USER_ID, name: "Tandem", app: true, isMe: true });
    const org = await client.organization;
    expect(org).toMatchObject({ id: ORG_ID, urlKey: ORG_URL_KEY });
    expect(only("viewer")).toMatchObject({
      path: "/graphql",
      rootFields: ["viewer"],
      authorization: "lin_api_test_key",
      status: 200,
    });
    expect(only("organization").rootFields).toEqual(["organization"]);
  });

  it("fetches an issue by identifier, then its team, state and labels lazily", async () => {
    const made = fake.addIssue({
      title: "Fix the greeting",
      description: "Too short.",
      labels: ["bug"],
    });
    const issue = await client.issue(made.identifier);
    expect(issue).toMatchObject({
      id: made.id,
      identifier: "ENG-1",
      title: "Fix the greeting",
      description: "Too short.",
      url: `https://linear.app/${ORG_URL_KEY}/issue/eng-1`,
      teamId: fake.defaultTeam.id,
      stateId: made.stateId,
    });
    expect(only("issue")).toMatchObject({ rootFields: ["issue"], variables: { id: "ENG-1" } });

    expect((await issue.team)?.key).toBe("ENG");
    expect(only("team").variables).toEqual({ id: fake.defaultTeam.id });
    const state = await issue.state;
    expect(state).toMatchObject({ name: "Backlog", type: "backlog" });
    expect(only("workflowState").variables).toEqual({ id: made.stateId });
    expect((await issue.labels()).nodes.map((l) => l.name)).toEqual(["bug"]);
    expect(only("issue_labels")).toMatchObject({
      rootFields: ["issue"],
      variables: { id: made.id },
    });
  });

  it("answers team(id).states() and workflowStates({ filter }) filtered, with positions", async () => {
    const team = await client.team(fake.defaultTeam.id);
    const started = await team.states({ filter: { type: { eq: "started" } } });
    expect(started.nodes.map((s) => [s.name, s.type, s.position])).toEqual([
      ["In Progress", "started", 2],
      ["In Review", "started", 3],
    ]);
    expect(only("team_states").variables).toEqual({
      id: fake.defaultTeam.id,
      filter: { type: { eq: "started" } },
    });

    const other = fake.addTeam({
      key: "OPS",
      states: [
        { name: "Doing", type: "started", position: 5 },
        { name: "Closed", type: "completed", position: 9 },
      ],
    });
    const completed = await client.workflowStates({
      filter: { team: { id: { eq: other.id } }, type: { eq: "completed" } },
    });
    expect(completed.nodes.map((s) => s.name)).toEqual(["Closed"]);
    const all = await client.workflowStates({ filter: { type: { in: ["started"] } } });
    expect(all.nodes.map((s) => s.name)).toEqual(["In Progress", "In Review", "Doing"]);
    expect(fake.callsTo("workflowStates").map((c) => c.variables.filter)).toEqual([
      { team: { id: { eq: other.id } }, type: { eq: "completed" } },
      { type: { in: ["started"] } },
    ]);
  });

  it("records createAgentActivity's input; the session's status follows the last activity", async () => {
    const issue = fake.addIssue({ title: "Fix the greeting" });
    const session = fake.addSession({ issueId: issue.id });
    expect(session.status).toBe("pending");

    const thought = await client.createAgentActivity({
      agentSessionId: session.id,
      content: { type: "thought", body: "Looking at the greeting." },
      ephemeral: true,
    });
    expect(thought.success).toBe(true);
    expect(fake.sessionOf(session.id)?.status).toBe("active");
    await client.createAgentActivity({
      agentSessionId: session.id,
      content: { type: "elicitation", body: "Please connect your account." },
      signal: AgentActivitySignal.Auth,
      signalMetadata: { url: "http://tandem.test/connect" },
    });
    expect(fake.sessionOf(session.id)?.status).toBe("awaitingInput");
    await client.createAgentActivity({
      agentSessionId: session.id,
      content: { type: "response", body: "Done: the greeting is longer." },
    });
    expect(fake.sessionOf(session.id)?.status).toBe("complete");

    expect(fake.activitiesOf(session.id)).toMatchObject([
      {
        agentSessionId: session.id,
        content: { type: "thought", body: "Looking at the greeting." },
        ephemeral: true,
        signal: null,
      },
      {
        content: { type: "elicitation", body: "Please connect your account." },
        ephemeral: false,
        signal: "auth",
        signalMetadata: { url: "http://tandem.test/connect" },
      },
      { content: { type: "response", body: "Done: the greeting is longer." }, signal: null },
    ]);
    const calls = fake.callsTo("agentActivityCreate");
    expect(calls.map((c) => c.operationName)).toEqual([
      "createAgentActivity",
      "createAgentActivity",
      "createAgentActivity",
    ]);
    expect(calls[0]!.variables).toEqual({
      input: {
        agentSessionId: session.id,
        content: { type: "thought", body: "Looking at the greeting." },
        ephemeral: true,
      },
    });
    expect(calls[0]!.query).toMatch(
      /mutation createAgentActivity\(\$input: AgentActivityCreateInput!\)/,
    );

    // The payload's activity is fetched by id, with its content typed as Linear types it.
    const activity = await thought.agentActivity;
    expect(activity?.id).toBe(fake.activitiesOf(session.id)[0]!.id);
    expect(activity?.content).toMatchObject({
      __typename: "AgentActivityThoughtContent",
      body: "Looking at the greeting.",
    });
    const listed = await (await client.agentSession(session.id)).activities();
    expect(listed.nodes.map((a) => a.content.__typename)).toEqual([
      "AgentActivityThoughtContent",
      "AgentActivityElicitationContent",
      "AgentActivityResponseContent",
    ]);
  });

  it("rejects activities Linear would reject (unknown session, no body) and records none", async () => {
    const session = fake.addSession({});
    await expect(
      client.createAgentActivity({
        agentSessionId: "no-such-session",
        content: { type: "thought", body: "x" },
      }),
    ).rejects.toThrow(InvalidInputLinearError);
    await expect(
      client.createAgentActivity({ agentSessionId: session.id, content: { type: "thought" } }),
    ).rejects.toThrow(/a thought activity needs a body/);
    await expect(
      client.createAgentActivity({
        agentSessionId: session.id,
        content: { type: "action", action: "Ran" },
      }),
    ).rejects.toThrow(/needs action and parameter/);
    expect(fake.activities).toEqual([]);
    expect(fake.calls.map((c) => c.status)).toEqual([400, 400, 400]);
  });

  it("records updateAgentSession's externalUrls, plan and summary on the session", async () => {
    const session = fake.addSession({ issueId: fake.addIssue({ title: "Plan it" }).id });
    const plan = { steps: [{ content: "Read the code", status: "completed" }] };
    const res = await client.updateAgentSession(session.id, {
      externalUrls: [{ label: "View session", url: "http://tandem.test/s/1" }],
      plan,
      summary: "Fixing the greeting",
    });
    expect(res.success).toBe(true);
    await client.updateAgentSession(session.id, {
      addedExternalUrls: [{ label: "Pull request", url: "http://git.test/pr/1" }],
    });
    expect(fake.sessionOf(session.id)).toMatchObject({
      externalUrls: [
        { label: "View session", url: "http://tandem.test/s/1" },
        { label: "Pull request", url: "http://git.test/pr/1" },
      ],
      plan,
      summary: "Fixing the greeting",
    });
    expect(fake.sessionOf(session.id)?.updates).toHaveLength(2);
    expect(fake.callsTo("agentSessionUpdate")[0]!.variables).toEqual({
      id: session.id,
      input: {
        externalUrls: [{ label: "View session", url: "http://tandem.test/s/1" }],
        plan,
        summary: "Fixing the greeting",
      },
    });

    // Read back through the SDK: JSON scalars travel stringified, as the SDK expects.
    const read = await client.agentSession(session.id);
    expect(read.plan).toEqual(plan);
    expect(read.externalLinks.map((l) => l.label)).toEqual(["View session", "Pull request"]);
    expect(read.summary).toBe("Fixing the greeting");
  });

  it("applies updateIssue's stateId, assigneeId and delegateId; refuses an unknown state", async () => {
    const issue = fake.addIssue({ title: "Start me" });
    const inProgress = fake.defaultTeam.states.find((s) => s.name === "In Progress")!;
    const res = await client.updateIssue(issue.id, {
      stateId: inProgress.id,
      assigneeId: HUMAN_USER_ID,
      delegateId: AGENT_USER_ID,
    });
    expect(res.success).toBe(true);
    expect(fake.issues.get(issue.id)).toMatchObject({
      stateId: inProgress.id,
      assigneeId: HUMAN_USER_ID,
      delegateId: AGENT_USER_ID,
    });
    expect(fake.stateOf(issue).name).toBe("In Progress");
    expect((await client.issue(issue.id)).delegateId).toBe(AGENT_USER_ID);
    expect(fake.callsTo("issueUpdate")[0]!.variables).toEqual({
      id: issue.id,
      input: { stateId: inProgress.id, assigneeId: HUMAN_USER_ID, delegateId: AGENT_USER_ID },
    });

    await expect(client.updateIssue(issue.id, { stateId: "no-such-state" })).rejects.toThrow(
      /Entity not found: WorkflowState/,
    );
    expect(fake.stateOf(issue).name).toBe("In Progress");
  });

  it("keeps commentCreate's comments and attachmentCreate's attachments (one per url)", async () => {
    const issue = fake.addIssue({ title: "Link the PR" });
    const first = await client.createComment({ issueId: issue.id, body: "On it." });
    const firstId = (await first.comment)!.id;
    await client.createComment({ issueId: issue.identifier, body: "Reply.", parentId: firstId });
    expect(fake.commentsOn(issue.id)).toMatchObject([
      { body: "On it.", parentId: null, userId: AGENT_USER_ID },
      { body: "Reply.", parentId: firstId },
    ]);
    expect(fake.callsTo("commentCreate")[1]!.variables).toEqual({
      input: { issueId: issue.identifier, body: "Reply.", parentId: firstId },
    });

    const url = "http://git.test/acme/widgets/pull/7";
    const made = await client.createAttachment({ issueId: issue.id, url, title: "PR #7" });
    expect((await made.attachment)?.title).toBe("PR #7");
    await client.createAttachment({
      issueId: issue.id,
      url,
      title: "PR #7 (merged)",
      subtitle: "merged",
    });
    expect(fake.attachmentsOn(issue.id)).toMatchObject([
      { url, title: "PR #7 (merged)", subtitle: "merged", writes: 2 },
    ]);
    expect(fake.callsTo("attachmentCreate")[0]!.variables).toEqual({
      input: { issueId: issue.id, url, title: "PR #7" },
    });
  });

  it("answers issueRepositorySuggestions with the test's suggestions among the candidates", async () => {
    const issue = fake.addIssue({ title: "Which repo?" });
    fake.repositorySuggestions = [
      { repositoryFullName: "acme/other", confidence: 0.4 },
      { repositoryFullName: "acme/widgets", confidence: 0.9 },
      { repositoryFullName: "acme/not-offered", confidence: 1 },
    ];
    const candidates = [
      { hostname: "github.com", repositoryFullName: "acme/widgets" },
      { hostname: "github.com", repositoryFullName: "acme/other" },
    ];
    const res = await client.issueRepositorySuggestions(candidates, issue.id, {
      agentSessionId: "s-1",
    });
    expect(res.suggestions.map((s) => [s.repositoryFullName, s.confidence])).toEqual([
      ["acme/widgets", 0.9],
      ["acme/other", 0.4],
    ]);
    expect(only("issueRepositorySuggestions").variables).toEqual({
      candidateRepositories: candidates,
      issueId: issue.id,
      agentSessionId: "s-1",
    });
  });

  it("answers a root field it does not implement with an error naming it", async () => {
    const err = await client.cycles().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphqlLinearError);
    expect((err as Error).message).toMatch(/fake Linear does not implement Query\.cycles/);
    expect(only("cycles")).toMatchObject({ rootFields: ["cycles"], status: 400 });
  });

  it("failNext fails the next request for a root field once, as the SDK's error classes", async () => {
    const session = fake.addSession({});
    const thought = () =>
      client.createAgentActivity({
        agentSessionId: session.id,
        content: { type: "thought", body: "x" },
      });

    fake.failNext("agentActivityCreate", {
      graphqlError: { message: "Rate limit exceeded", extensions: { code: "RATELIMITED" } },
      headers: { "retry-after": "7" },
    });
    const limited = await thought().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RatelimitedLinearError);
    expect(limited).toMatchObject({ message: "Rate limit exceeded", status: 400, retryAfter: 7 });
    expect((await thought()).success).toBe(true);

    fake.failNext("agentActivityCreate", { status: 429 });
    await expect(thought()).rejects.toThrow(RatelimitedLinearError);
    fake.failNext("agentActivityCreate", { status: 500 });
    await expect(thought()).rejects.toThrow(InternalLinearError);
    // Another root field is not affected by a failure queued for agentActivityCreate.
    fake.failNext("agentActivityCreate", { status: 503 });
    expect((await client.viewer).id).toBe(AGENT_USER_ID);

    expect(fake.callsTo("agentActivityCreate").length).toBe(1);
    expect(fake.calls.map((c) => c.status)).toEqual([400, 200, 429, 500, 200]);
    expect(fake.activitiesOf(session.id)).toHaveLength(1);
  });

  it("waitFor resolves once its condition holds and names what timed out", async () => {
    const session = fake.addSession({});
    setTimeout(
      () =>
        void client.createAgentActivity({
          agentSessionId: session.id,
          content: { type: "thought", body: "late" },
        }),
      100,
    );
    await fake.waitFor("the late thought", () => fake.activitiesOf(session.id).length === 1, 5_000);
    await expect(fake.waitFor("nothing", () => false, 200)).rejects.toThrow(
      "fake Linear: timed out waiting for nothing",
    );
  });
});

describe("fake Linear OAuth", () => {
  const form = (fields: Record<string, string>) =>
    fetch(fake.tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
    });
  const exchange = {
    grant_type: "authorization_code",
    code: "code-1",
    client_id: "client-1",
    client_secret: "secret-1",
    redirect_uri: "http://tandem.test/oauth/linear/callback",
  };

  it("exchanges a code for a Bearer token the API then accepts; refuses other tokens", async () => {
    await fake.close();
    fake = await new FakeLinear({
      oauthClient: { clientId: "client-1", clientSecret: "secret-1" },
    }).listen();
    fake.acceptedTokens = new Set();

    const res = await form(exchange);
    expect(res.status).toBe(200);
    const token = (await res.json()) as Record<string, unknown>;
    expect(token).toMatchObject({
      token_type: "Bearer",
      expires_in: 86_399,
      scope: fake.oauthScope,
    });
    expect(token.access_token).toBe(fake.issuedTokens[0]!.accessToken);
    expect(fake.calls[0]).toMatchObject({ path: "/oauth/token", variables: exchange, status: 200 });

    const oauth = new LinearClient({ accessToken: String(token.access_token), apiUrl: fake.url });
    expect((await oauth.viewer).id).toBe(AGENT_USER_ID);
    const stranger = new LinearClient({ accessToken: "not-issued", apiUrl: fake.url });
    await expect(stranger.viewer).rejects.toThrow(AuthenticationLinearError);
    expect(fake.calls.slice(1).map((c) => [c.authorization, c.status])).toEqual([
      [`Bearer ${token.access_token}`, 200],
      ["Bearer not-issued", 401],
    ]);
  });

  it("refuses a reused code, the wrong client secret and an unknown grant", async () => {
    await fake.close();
    fake = await new FakeLinear({
      oauthClient: { clientId: "client-1", clientSecret: "secret-1" },
    }).listen();
    expect((await form(exchange)).status).toBe(200);
    const reused = await form(exchange);
    expect([reused.status, ((await reused.json()) as { error: string }).error]).toEqual([
      400,
      "invalid_grant",
    ]);
    const wrong = await form({ ...exchange, code: "code-2", client_secret: "nope" });
    expect([wrong.status, ((await wrong.json()) as { error: string }).error]).toEqual([
      401,
      "invalid_client",
    ]);
    const grant = await form({ ...exchange, grant_type: "password" });
    expect(((await grant.json()) as { error: string }).error).toBe("unsupported_grant_type");
    expect(fake.calls.map((c) => c.status)).toEqual([200, 400, 401, 400]);
    expect(fake.issuedTokens).toHaveLength(1);
  });
});

describe("Linear webhook helpers", () => {
  it("signs the raw body so the SDK's LinearWebhookClient verifies it; a tampered one fails", () => {
    const body = JSON.stringify(
      agentSessionPrompted({ agentSessionId: "s-1", body: "Also add a test." }),
    );
    const headers = linearHeaders(body, { deliveryId: "delivery-1" });
    expect(headers).toMatchObject({
      "Linear-Delivery": "delivery-1",
      "Linear-Event": "AgentSessionEvent",
      "Content-Type": "application/json; charset=utf-8",
    });
    expect(headers["Linear-Signature"]).toMatch(/^[0-9a-f]{64}$/);

    const verifier = new LinearWebhookClient(LINEAR_WEBHOOK_SECRET);
    expect(verifier.verify(Buffer.from(body), headers["Linear-Signature"])).toBe(true);
    const tampered = body.replace("Also add a test.", "Also delete the repo.");
    expect(() => verifier.verify(Buffer.from(tampered), headers["Linear-Signature"])).toThrow(
      "Invalid webhook signature",
    );
    const otherSecret = linearHeaders(body, { secret: "another-secret" })["Linear-Signature"];
    expect(() => verifier.verify(Buffer.from(body), otherSecret)).toThrow(
      "Invalid webhook signature",
    );
    // The SDK also refuses a body whose webhookTimestamp is more than a minute old.
    const stale = JSON.stringify(
      agentSessionPrompted({
        agentSessionId: "s-1",
        body: "x",
        webhookTimestamp: Date.now() - 120_000,
      }),
    );
    expect(() =>
      verifier.verify(Buffer.from(stale), linearHeaders(stale)["Linear-Signature"]),
    ).toThrow("Invalid webhook timestamp");
  });

  it("postLinear delivers to /hooks/linear, accepted by the SDK's webhook handler", async () => {
    const received: Array<{ payload: LinearWebhookPayload; headers: http.IncomingHttpHeaders }> =
      [];
    const handler = new LinearWebhookClient(LINEAR_WEBHOOK_SECRET).createHandler();
    let headers: http.IncomingHttpHeaders = {};
    handler.on("*", (payload) => void received.push({ payload, headers }));
    const server = http.createServer((req, res) => {
      headers = req.headers;
      if (req.url !== "/hooks/linear") return void res.writeHead(404).end();
      void handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const issue = fake.addIssue({ title: "Fix the greeting" });
      const ok = await postLinear(
        base,
        commentCreated({ issueId: issue.id, body: "Thanks!", userId: HUMAN_USER_ID }),
        {
          deliveryId: "delivery-2",
        },
      );
      expect(ok).toEqual({ status: 200, text: "OK" });
      expect(received).toHaveLength(1);
      expect(received[0]!.payload).toMatchObject({ type: "Comment", action: "create" });
      expect(received[0]!.headers).toMatchObject({
        "linear-delivery": "delivery-2",
        "linear-event": "Comment",
        "user-agent": "Linear-Webhook",
      });

      const forged = await postLinear(
        base,
        commentCreated({ issueId: issue.id, body: "x", userId: HUMAN_USER_ID }),
        {
          signature: "0".repeat(64),
        },
      );
      expect(forged.status).toBe(400);
      expect(received).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("agentSessionCreated: a created AgentSessionEvent with the session, its issue and comment", () => {
    const issue = fake.addIssue({ title: "Fix the greeting", description: "It says hi." });
    const before = Date.now();
    const p = agentSessionCreated({
      agentSessionId: "s-1",
      issue,
      comment: { id: "c-1", body: "@tandem please fix" },
    });
    expect(p).toMatchObject({
      type: "AgentSessionEvent",
      action: "created",
      organizationId: ORG_ID,
      appUserId: AGENT_USER_ID,
      oauthClientId: OAUTH_CLIENT_ID,
      agentSession: {
        id: "s-1",
        status: "pending",
        appUserId: AGENT_USER_ID,
        issueId: issue.id,
        issue: {
          id: issue.id,
          identifier: "ENG-1",
          title: "Fix the greeting",
          description: "It says hi.",
          teamId: fake.defaultTeam.id,
          team: { key: "ENG" },
        },
        commentId: "c-1",
        comment: {
          id: "c-1",
          body: "@tandem please fix",
          userId: HUMAN_USER_ID,
          issueId: issue.id,
        },
        creatorId: HUMAN_USER_ID,
        creator: { id: HUMAN_USER_ID, name: "Alice Example" },
      },
    });
    expect(p.agentActivity).toBeUndefined();
    expect(p.webhookTimestamp).toBeGreaterThanOrEqual(before);
    expect(p.webhookTimestamp).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(p.createdAt)).toBe(p.webhookTimestamp);
    expect(p.webhookId).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.promptContext).toContain('<issue identifier="ENG-1">');
    expect(p.promptContext).toContain("@tandem please fix");

    // Delegated (no comment) and started by automation (no creator).
    const delegated = agentSessionCreated({
      agentSessionId: "s-2",
      issue,
      creator: null,
      promptContext: "ctx",
    });
    expect(delegated.agentSession).toMatchObject({
      commentId: null,
      comment: null,
      creatorId: null,
    });
    expect(delegated.promptContext).toBe("ctx");
  });

  it("agentSessionPrompted: the person's message as a prompt activity, with the stop signal", () => {
    const p = agentSessionPrompted({ agentSessionId: "s-1", body: "Also add a test." });
    expect(p).toMatchObject({
      type: "AgentSessionEvent",
      action: "prompted",
      appUserId: AGENT_USER_ID,
      agentSession: { id: "s-1" },
      agentActivity: {
        agentSessionId: "s-1",
        content: { type: "prompt", body: "Also add a test." },
        signal: null,
        userId: HUMAN_USER_ID,
      },
    });
    const stop = agentSessionPrompted({ agentSessionId: "s-1", body: "Stop", signal: "stop" });
    expect(stop.agentActivity?.signal).toBe("stop");
    expect(stop.agentActivity?.content).toEqual({ type: "prompt", body: "Stop" });
  });

  it("commentCreated and issueUpdated: Comment/create and Issue/update with data and updatedFrom", () => {
    const issue = fake.addIssue({ title: "Fix the greeting" });
    const c = commentCreated({
      issueId: issue.id,
      body: "Any news?",
      userId: HUMAN_USER_ID,
      issue,
    });
    expect(c).toMatchObject({
      type: "Comment",
      action: "create",
      organizationId: ORG_ID,
      actor: { id: HUMAN_USER_ID, type: "user" },
      data: {
        body: "Any news?",
        issueId: issue.id,
        userId: HUMAN_USER_ID,
        issue: { identifier: "ENG-1" },
        parentId: null,
      },
    });
    expect(c.url).toMatch(new RegExp(`^${issue.url}#comment-`));
    expect(c).not.toHaveProperty("appUserId");

    fake.issues.get(issue.id)!.delegateId = AGENT_USER_ID;
    const u = issueUpdated({
      issue,
      state: fake.stateOf(issue),
      updatedFrom: { delegateId: null },
    });
    expect(u).toMatchObject({
      type: "Issue",
      action: "update",
      url: issue.url,
      data: {
        id: issue.id,
        identifier: "ENG-1",
        delegateId: AGENT_USER_ID,
        delegate: { id: AGENT_USER_ID, name: "Tandem" },
        assigneeId: null,
        stateId: issue.stateId,
        state: { name: "Backlog", type: "backlog" },
        teamId: fake.defaultTeam.id,
      },
      updatedFrom: { delegateId: null },
    });
    expect(u.updatedFrom).toHaveProperty("updatedAt");
    expect(linearHeaders(JSON.stringify(u))["Linear-Event"]).toBe("Issue");
  });
});
