import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import JiraApi from "jira-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { adfProblems } from "./fixtures/adf-schema.ts";
import { FakeJira, textOf } from "./fixtures/fake-jira.ts";
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
  type AdfDoc,
} from "./helpers/jira.ts";

// The fake Jira site driven by the real jira-client (v8), and the webhook builders checked
// against an independent HMAC. jira-client turns every HTTP error into
// `new Error(JSON.stringify(responseBody))`: the status is lost, so tests read the body.

let fake: FakeJira;
let client: JiraApi;

const clientFor = (password: string, apiVersion = "3") =>
  new JiraApi({
    protocol: "http",
    host: "127.0.0.1",
    port: String(fake.port),
    username: JIRA_EMAIL,
    password,
    apiVersion,
    strictSSL: false,
  });

beforeEach(async () => {
  fake = await new FakeJira({ email: JIRA_EMAIL, apiToken: JIRA_API_TOKEN }).listen();
  client = clientFor(JIRA_API_TOKEN);
});
afterEach(() => fake.close());

const doc = (...paragraphs: string[]): AdfDoc => ({
  type: "doc",
  version: 1,
  content: paragraphs.map((text) => ({ type: "paragraph", content: [{ type: "text", text }] })),
});

/** What jira-client rejects with: the response body, JSON-encoded into the message. */
async function rejection(p: Promise<unknown>): Promise<any> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "the call should have failed").toBeInstanceOf(Error);
  return JSON.parse((err as Error).message);
}

describe("fake Jira REST with the real jira-client", () => {
  it("answers /myself with the agent, recording the Basic credentials as sent", async () => {
    const me = await client.getCurrentUser();
    expect(me).toMatchObject({
      accountId: AGENT_ACCOUNT_ID,
      accountType: "atlassian",
      displayName: "Tandem",
      emailAddress: JIRA_EMAIL,
      active: true,
    });
    const [call] = fake.callsTo("GET", /\/rest\/api\/3\/myself$/);
    expect(call).toMatchObject({ status: 200, method: "GET", path: "/rest/api/3/myself" });
    const basic = `Basic ${Buffer.from(`${JIRA_EMAIL}:${JIRA_API_TOKEN}`).toString("base64")}`;
    expect(call!.authorization).toBe(basic);
  });

  it("answers /serverInfo as a Cloud site whose base URL is the fake", async () => {
    expect(await client.getServerInfo()).toMatchObject({
      baseUrl: fake.url,
      deploymentType: "Cloud",
      version: "1001.0.0-SNAPSHOT",
    });
  });

  it("refuses wrong or missing credentials with 401, and records the attempt", async () => {
    const body = await rejection(clientFor("wrong-token").getCurrentUser());
    expect(body).toEqual({
      errorMessages: ["Client must be authenticated to access this resource."],
      errors: {},
    });
    const res = await fetch(`${fake.url}/rest/api/3/myself`);
    expect(res.status).toBe(401);
    expect(fake.calls.map((c) => c.status)).toEqual([401, 401]);
    expect(fake.calls[1]!.authorization).toBeUndefined();
  });

  it("finds an issue by key and by numeric id, with its fields in REST v3 form", async () => {
    const made = fake.addIssue({
      summary: "Fix the greeting",
      description: "It is too short.\nSay hello properly.",
      labels: ["tandem"],
    });
    expect(made).toMatchObject({ key: "ENG-1", id: expect.stringMatching(/^\d+$/) });
    expect(fake.addIssue({ summary: "Second" }).key).toBe("ENG-2");
    expect(fake.addIssue({ summary: "Other", projectKey: "OPS" }).key).toBe("OPS-1");

    const issue = await client.findIssue("ENG-1");
    expect(issue).toMatchObject({
      id: made.id,
      key: "ENG-1",
      self: `${fake.url}/rest/api/3/issue/${made.id}`,
      fields: {
        summary: "Fix the greeting",
        labels: ["tandem"],
        status: { name: "To Do", statusCategory: { key: "new" } },
        project: { key: "ENG", id: made.fields.project.id },
        assignee: null,
        issuetype: { name: "Task" },
      },
    });
    expect(adfProblems(issue.fields.description)).toEqual([]);
    expect(textOf(issue.fields.description)).toBe("It is too short.\nSay hello properly.");
    // jira-client sends fields=*all; the id works as well as the key.
    expect(fake.calls.at(-1)!.query.fields).toBe("*all");
    expect((await client.findIssue(made.id)).key).toBe("ENG-1");
  });

  it("filters the fields of an issue when asked for some", async () => {
    fake.addIssue({ summary: "Only some fields", labels: ["a"] });
    const issue = await client.findIssue("ENG-1", "", "summary,labels");
    expect(Object.keys(issue.fields).sort()).toEqual(["labels", "summary"]);
  });

  it("answers an unknown issue with Jira's 404 message", async () => {
    expect(await rejection(client.findIssue("ENG-404"))).toEqual({
      errorMessages: ["Issue does not exist or you do not have permission to see it."],
      errors: {},
    });
    expect(fake.calls.at(-1)!.status).toBe(404);
  });

  it("keeps one comment, created with ADF and edited in place, with every version", async () => {
    fake.addIssue({ summary: "Fix the greeting" });
    const created = await client.addComment("ENG-1", doc("Working on it") as unknown as string);
    expect(created).toMatchObject({
      id: expect.stringMatching(/^\d+$/),
      author: { accountId: AGENT_ACCOUNT_ID },
      body: doc("Working on it"),
    });
    const updated = await client.updateComment(
      "ENG-1",
      created.id,
      doc("Done", "Opened a pull request") as unknown as string,
    );
    expect(updated).toMatchObject({ id: created.id, body: doc("Done", "Opened a pull request") });

    const [comment, ...others] = fake.commentsOn("ENG-1");
    expect(others).toEqual([]);
    expect(comment!.body).toEqual(doc("Working on it"));
    expect(comment!.edits).toEqual([doc("Done", "Opened a pull request")]);
    expect(fake.textOf(comment!.current)).toBe("Done\nOpened a pull request");

    const listed = await client.getComments("ENG-1");
    expect(listed).toMatchObject({ startAt: 0, total: 1 });
    expect(listed.comments.map((c: any) => c.body)).toEqual([doc("Done", "Opened a pull request")]);
  });

  it("gives every comment an id unique across issues", async () => {
    fake.addIssue({ summary: "One" });
    fake.addIssue({ summary: "Two" });
    const a = await client.addComment("ENG-1", doc("a") as unknown as string);
    const b = await client.addComment("ENG-2", doc("b") as unknown as string);
    expect(a.id).not.toBe(b.id);
  });

  it("refuses an invalid ADF body with 400, stores nothing, and keeps the reasons on the call", async () => {
    fake.addIssue({ summary: "Fix the greeting" });
    const emptyText = {
      type: "doc",
      version: 1,
      content: [{ type: "paragraph", content: [{ type: "text", text: "" }] }],
    };
    expect(await rejection(client.addComment("ENG-1", emptyText as unknown as string))).toEqual({
      errorMessages: [],
      errors: { comment: "Comment body is not valid!" },
    });
    const [call] = fake.callsTo("POST", /\/comment$/);
    expect(call!.status).toBe(400);
    expect(call!.invalid!.join("\n")).toMatch(/text/);

    // A wiki string is a v2 body; v3 refuses it.
    expect(await rejection(client.addComment("ENG-1", "plain text"))).toMatchObject({
      errors: { comment: "Comment body is not valid!" },
    });
    expect(fake.commentsOn("ENG-1")).toEqual([]);
  });

  it("refuses an invalid edit and keeps the comment as it was", async () => {
    fake.addIssue({ summary: "Fix the greeting" });
    const created = await client.addComment("ENG-1", doc("Working on it") as unknown as string);
    const bad = { type: "doc", version: 2, content: [] };
    await rejection(client.updateComment("ENG-1", created.id, bad as unknown as string));
    expect(fake.commentsOn("ENG-1")[0]!.edits).toEqual([]);
    const problems = fake.callsTo("PUT", /\/comment\/\d+$/)[0]!.invalid;
    expect(problems?.join(" ")).toMatch(/version/);
  });

  it("answers 404 when editing a comment that is not on that issue", async () => {
    fake.addIssue({ summary: "One" });
    fake.addIssue({ summary: "Two" });
    const onOne = await client.addComment("ENG-1", doc("here") as unknown as string);
    const body = await rejection(
      client.updateComment("ENG-2", onOne.id, doc("there") as unknown as string),
    );
    expect(body.errorMessages[0]).toMatch(/Can not find a comment/);
    expect(fake.calls.at(-1)!.status).toBe(404);
    expect(fake.commentsOn("ENG-1")[0]!.edits).toEqual([]);
  });

  it("lists the transitions away from the current status and applies one", async () => {
    fake.addIssue({ summary: "Fix the greeting" });
    const { transitions } = await client.listTransitions("ENG-1");
    expect(transitions.map((t: any) => [t.id, t.name, t.to.statusCategory.key])).toEqual([
      ["21", "In Progress", "indeterminate"],
      ["31", "Done", "done"],
    ]);
    await client.transitionIssue("ENG-1", { transition: { id: "21" } });
    expect(fake.calls.at(-1)!.status).toBe(204);
    expect(fake.issue("ENG-1")!.fields.status).toEqual({
      name: "In Progress",
      statusCategory: { key: "indeterminate" },
    });
    expect((await client.findIssue("ENG-1")).fields.status.name).toBe("In Progress");
    const ids = (await client.listTransitions("ENG-1")).transitions.map((t: any) => t.id);
    expect(ids).toEqual(["11", "31"]);
  });

  it("refuses an unknown transition with 400", async () => {
    fake.addIssue({ summary: "Fix the greeting" });
    const body = await rejection(client.transitionIssue("ENG-1", { transition: { id: "99" } }));
    expect(body.errorMessages[0]).toMatch(/99/);
    expect(fake.issue("ENG-1")!.fields.status.name).toBe("To Do");
  });

  it("lists the projects that have issues or were added, also through /project/search", async () => {
    fake.addIssue({ summary: "In ENG" });
    fake.addProject("OPS", "Operations");
    const projects = await client.listProjects();
    expect(projects.map((p) => [p.key, p.name])).toEqual([
      ["ENG", "ENG"],
      ["OPS", "Operations"],
    ]);
    const page = await client.genericGet("project/search");
    expect(page).toMatchObject({ total: 2, isLast: true, startAt: 0 });
    expect(page.values.map((p: any) => p.key)).toEqual(["ENG", "OPS"]);
  });

  it("passes an injected 429 to the client as an error, then answers again", async () => {
    fake.failNext("GET", /\/myself$/, { status: 429, headers: { "Retry-After": "2" } });
    expect(await rejection(client.getCurrentUser())).toEqual({
      errorMessages: ["Rate limit exceeded."],
      errors: {},
    });
    const res = await fetch(`${fake.url}/rest/api/3/myself`, {
      headers: { authorization: fake.calls[0]!.authorization! },
    });
    expect(res.status).toBe(200);
    expect(fake.calls.map((c) => c.status)).toEqual([429, 200]);
  });

  it("repeats an injected failure `times` times and carries its headers", async () => {
    fake.failNext("GET", /\/serverInfo$/, {
      status: 503,
      headers: { "Retry-After": "1" },
      times: 2,
    });
    const first = await fetch(`${fake.url}/rest/api/3/serverInfo`);
    expect(first.headers.get("retry-after")).toBe("1");
    await rejection(client.getServerInfo());
    await client.getServerInfo();
    expect(fake.calls.map((c) => c.status)).toEqual([503, 503, 200]);
  });

  it("answers the same issue under /rest/api/2 with a wiki-string description", async () => {
    fake.addIssue({ summary: "Old API", description: "First line\nSecond line" });
    const issue = await clientFor(JIRA_API_TOKEN, "2").findIssue("ENG-1");
    expect(issue.fields.description).toBe("First line\n\nSecond line");
    expect(fake.calls.at(-1)!.path).toBe("/rest/api/2/issue/ENG-1");
  });

  it("answers an unknown endpoint with 404, recorded", async () => {
    const body = await rejection(client.genericGet("search?jql=project%3DENG"));
    expect(body.errorMessages[0]).toMatch(/no route GET \/rest\/api\/3\/search/);
    expect(fake.calls.at(-1)!.status).toBe(404);
  });
});

describe("Jira webhook bodies", () => {
  const site = "https://tandem-test.atlassian.example";

  it("comment_created carries a wiki-markup body with the mention, as admin webhooks send it", () => {
    const issue = fake.addIssue({ summary: "Fix the greeting" });
    const payload = commentCreated({
      site,
      issue,
      body: `${wikiMention(AGENT_ACCOUNT_ID)} please fix`,
    });
    expect(payload).toMatchObject({
      webhookEvent: "comment_created",
      timestamp: expect.any(Number),
      matchedWebhookIds: [1],
      comment: {
        self: `${site}/rest/api/2/issue/${issue.id}/comment/${payload.comment.id}`,
        body: `[~accountid:${AGENT_ACCOUNT_ID}] please fix`,
        author: { accountId: HUMAN_ACCOUNT_ID, accountType: "atlassian", active: true },
        updateAuthor: { accountId: HUMAN_ACCOUNT_ID },
        jsdPublic: true,
      },
      issue: {
        id: issue.id,
        key: "ENG-1",
        self: `${site}/rest/api/2/${issue.id}`,
        fields: { summary: "Fix the greeting", status: { name: "To Do" }, assignee: null },
      },
    });
    expect(Object.keys(payload.issue.fields).sort()).toEqual(
      ["assignee", "issuetype", "priority", "project", "status", "summary"].sort(),
    );
  });

  it("comment_created with adf: true carries a valid ADF body with a real mention node", () => {
    const issue = fake.addIssue({ summary: "Fix the greeting" });
    const payload = commentCreated({
      site,
      issue,
      body: `${wikiMention(AGENT_ACCOUNT_ID)} please fix`,
      adf: true,
    });
    const body = payload.comment.body as AdfDoc;
    expect(adfProblems(body)).toEqual([]);
    expect(body.content[0]!.content).toEqual([
      { type: "mention", attrs: { id: AGENT_ACCOUNT_ID, text: "@Tandem", accessLevel: "" } },
      { type: "text", text: " please fix" },
    ]);
    expect(textOf(body)).toBe("@Tandem please fix");
  });

  it("comment_created from an app account says accountType app", () => {
    const issue = fake.addIssue({ summary: "Fix the greeting" });
    const payload = commentCreated({ site, issue, body: "automated", author: APP_ACCOUNT_ID });
    expect(payload.comment.author).toMatchObject({
      accountId: APP_ACCOUNT_ID,
      accountType: "app",
    });
  });

  it("an assignment is issue_assigned with Jira's assignee changelog item", () => {
    const issue = fake.addIssue({ summary: "Fix the greeting", assignee: HUMAN_ACCOUNT_ID });
    const payload = assigned({ site, issue, to: AGENT_ACCOUNT_ID });
    expect(payload).toMatchObject({
      webhookEvent: "jira:issue_updated",
      issue_event_type_name: "issue_assigned",
      user: { accountId: HUMAN_ACCOUNT_ID },
      issue: { key: "ENG-1", fields: { assignee: { accountId: AGENT_ACCOUNT_ID } } },
    });
    expect(payload.changelog.items).toEqual([
      {
        field: "assignee",
        fieldtype: "jira",
        fieldId: "assignee",
        from: HUMAN_ACCOUNT_ID,
        fromString: "Alice Example",
        to: AGENT_ACCOUNT_ID,
        toString: "Tandem",
        tmpFromAccountId: HUMAN_ACCOUNT_ID,
        tmpToAccountId: AGENT_ACCOUNT_ID,
      },
    ]);
    expect(payload.changelog.id).toMatch(/^\d+$/);
  });

  it("the trap case: the agent is the assignee but the changelog edits the summary", () => {
    const issue = fake.addIssue({ summary: "New title", assignee: AGENT_ACCOUNT_ID });
    const payload = issueUpdated({
      site,
      issue,
      items: [changeItem("summary", "Old title", "New title")],
    });
    expect(payload.issue_event_type_name).toBe("issue_updated");
    expect(payload.issue.fields.assignee).toMatchObject({ accountId: AGENT_ACCOUNT_ID });
    expect(payload.changelog.items.map((i) => i.fieldId)).toEqual(["summary"]);
  });

  it("a label change lists the labels space-separated, with the issue's new labels", () => {
    const issue = fake.addIssue({ summary: "Fix the greeting", labels: ["bug"] });
    const payload = labelsChanged({ site, issue, from: ["bug"], to: ["bug", "tandem"] });
    expect(payload.issue_event_type_name).toBe("issue_updated");
    expect(payload.changelog.items).toEqual([
      {
        field: "labels",
        fieldtype: "jira",
        fieldId: "labels",
        from: null,
        fromString: "bug",
        to: null,
        toString: "bug tandem",
      },
    ]);
    expect(payload.issue.fields).toMatchObject({ labels: ["bug", "tandem"] });
  });

  it("issue_created carries the labels and a wiki description, with the create changelog", () => {
    const issue = fake.addIssue({
      summary: "Fix the greeting",
      description: `Hello ${wikiMention(AGENT_ACCOUNT_ID)}`,
      labels: ["tandem"],
    });
    const payload = issueCreated({ site, issue });
    expect(payload).toMatchObject({
      webhookEvent: "jira:issue_created",
      issue_event_type_name: "issue_created",
      issue: {
        key: "ENG-1",
        fields: { labels: ["tandem"], description: `Hello [~accountid:${AGENT_ACCOUNT_ID}]` },
      },
    });
    expect(payload.changelog.items.map((i) => i.fieldId)).toEqual([
      "description",
      "labels",
      "priority",
      "reporter",
      "status",
      "summary",
    ]);
    expect(payload.changelog.items.find((i) => i.fieldId === "labels")).toMatchObject({
      fromString: "",
      toString: "tandem",
    });
  });
});

describe("postJira", () => {
  let receiver: http.Server;
  let base: string;
  const received: Array<{ headers: http.IncomingHttpHeaders; raw: Buffer; path?: string }> = [];

  beforeEach(async () => {
    received.length = 0;
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, raw: Buffer.concat(chunks), path: req.url });
        res.writeHead(202, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: true }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  afterEach(
    () =>
      new Promise<void>((resolve) => {
        receiver.closeAllConnections();
        receiver.close(() => resolve());
      }),
  );

  it("signs the exact raw body with HMAC-SHA256 of the secret", async () => {
    const issue = fake.addIssue({ summary: "Grüße — fix ✓" });
    const payload = commentCreated({ site: fake.url, issue, body: "non-ASCII: äöü ✓" });
    const result = await postJira(base, payload);
    expect(result).toMatchObject({ status: 202, body: { ok: true } });
    const [delivery] = received;
    expect(delivery!.path).toBe("/hooks/jira");
    expect(delivery!.headers["content-type"]).toBe("application/json");
    const expected = createHmac("sha256", JIRA_WEBHOOK_SECRET).update(delivery!.raw).digest("hex");
    expect(delivery!.headers["x-hub-signature"]).toBe(`sha256=${expected}`);
    expect(JSON.parse(delivery!.raw.toString("utf8"))).toEqual(payload);
    expect(delivery!.headers["x-atlassian-webhook-flow"]).toBe("Primary");
    expect(delivery!.headers["x-atlassian-webhook-identifier"]).toBe(result.identifier);
    expect(delivery!.headers["x-atlassian-webhook-retry"]).toBeUndefined();
  });

  it("gives each delivery a new identifier, and repeats a given one on a retry", async () => {
    const first = await postJira(base, { webhookEvent: "comment_created" });
    const second = await postJira(base, { webhookEvent: "comment_created" });
    expect(first.identifier).not.toBe(second.identifier);
    await postJira(
      base,
      { webhookEvent: "comment_created" },
      {
        identifier: first.identifier,
        retry: 1,
      },
    );
    expect(received[2]!.headers["x-atlassian-webhook-identifier"]).toBe(first.identifier);
    expect(received[2]!.headers["x-atlassian-webhook-retry"]).toBe("1");
  });

  it("sends no signature when the secret is null, and signs with another secret when given", async () => {
    await postJira(base, { a: 1 }, { secret: null });
    expect(received[0]!.headers["x-hub-signature"]).toBeUndefined();
    await postJira(base, { a: 1 }, { secret: "other" });
    const expected = createHmac("sha256", "other").update(received[1]!.raw).digest("hex");
    expect(received[1]!.headers["x-hub-signature"]).toBe(`sha256=${expected}`);
  });
});
