import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Octokit } from "@octokit/core";
import { and, eq } from "drizzle-orm";
import { fetch as undiciFetch, ProxyAgent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encryptSecret, schema, sessionUrl, type SandboxGrant } from "@tandem/core";
import { createEgressProxy, type GatewayIdentity } from "@tandem/web";
import { loadOrCreateCa, type GatewayCa } from "../web/src/gateway/ca.ts";
import {
  createIntegrationInterceptor,
  type IntegrationGateway,
} from "../web/src/gateway/integrations.ts";
import { FakeGitHub } from "./fixtures/fake-github.ts";
import { FakeSlack } from "./fixtures/fake-slack.ts";
import { startRecordingApi } from "./fixtures/recording-api.ts";
import { appKeys, githubAppEnv } from "./helpers/github.ts";
import { startFakeGitHubApp } from "./helpers/github-app.ts";
import { capturingLogger } from "./helpers/logs.ts";
import { untilDefined } from "./helpers/poll.ts";
import { startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

const run = promisify(execFile);
const PLACEHOLDER = "tandem-placeholder";
const SLACK_BOT_TOKEN = "test-slack-bot-token";
const SLACK_INSTALLED_TOKEN = "test-slack-installed-token";
const LINEAR_API_KEY = "test-linear-api-key";
const JIRA_EMAIL = "tandem@example.test";
const JIRA_API_TOKEN = "test-jira-api-token";
const INSTALLATION = 77;
const SLACK_TEAM = "T0OTHER";

/** curl through the proxy, its own config ignored (-q): status, CONNECT status, body, and curl's exit code. */
async function curl(proxyPort: number, url: string, ...args: string[]) {
  const out = await run("curl", [
    "-q",
    "-sS",
    "--max-time",
    "10",
    "-x",
    `http://127.0.0.1:${proxyPort}`,
    ...args,
    "-w",
    "\n%{http_code} %{http_connect}",
    url,
  ])
    .then((r) => ({ ...r, code: 0 }))
    .catch((err: { stdout: string; stderr: string; code: number }) => ({
      stdout: err.stdout,
      stderr: err.stderr,
      code: err.code,
    }));
  const at = out.stdout.lastIndexOf("\n");
  const [status, connect] = out.stdout.slice(at + 1).split(" ");
  return {
    body: out.stdout.slice(0, at),
    status: Number(status),
    connectStatus: Number(connect),
    code: out.code,
    stderr: out.stderr,
  };
}

describe("the sandbox gateway's integrations", () => {
  let rt: TestRuntime;
  let github: FakeGitHub;
  let slack: FakeSlack;
  let linear: Awaited<ReturnType<typeof startRecordingApi>>;
  let jira: Awaited<ReturnType<typeof startRecordingApi>>;
  let caDir: string;
  let ca: GatewayCa;
  let caFile: string;
  let interceptor: IntegrationGateway;
  let sessionId: string;
  let unboundSessionId: string;
  let repositoryId: string;
  let link: string;
  const logLines: string[] = [];
  const proxies: http.Server[] = [];
  const dispatchers: ProxyAgent[] = [];
  const ALL = ["github", "slack", "linear", "jira"] as const;

  /** The egress proxy (on a loopback port, as the gateway would hand it sockets) for one sandbox identity. */
  async function proxyFor(
    grant: SandboxGrant,
    integrations: GatewayIdentity["integrations"] | null = ALL,
  ) {
    const identity: GatewayIdentity = {
      grant,
      policy: { egress: "none", allow: [] },
      profileLabel: "profile node v3",
      ...(integrations ? { integrations } : {}),
    };
    const server = createEgressProxy(
      { db: rt.database.db, logger: rt.logger, clock: rt.clock, config: rt.config },
      { identify: () => identity, interceptor },
    );
    proxies.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  }
  const sessionGrant = (id = sessionId): SandboxGrant => ({
    orgId: rt.defaultOrgId,
    repositoryIds: [repositoryId],
    sessionId: id,
    purpose: "session",
  });

  /** A fetch through the proxy that trusts `trust` (the gateway CA unless told otherwise; null: the system's CAs only). */
  function fetchVia(port: number, trust: string | null = ca.certPem): typeof fetch {
    const dispatcher = new ProxyAgent({
      uri: `http://127.0.0.1:${port}`,
      requestTls: trust ? { ca: trust } : {},
    });
    dispatchers.push(dispatcher);
    return ((url: string, init?: RequestInit) =>
      undiciFetch(url, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  }
  /** Octokit as `gh` in the sandbox would be: the placeholder token, api.github.com, through the proxy. */
  const octokitVia = (port: number) =>
    new Octokit({ auth: PLACEHOLDER, request: { fetch: fetchVia(port) } });

  let main: number;
  beforeAll(async () => {
    const keys = appKeys();
    github = await startFakeGitHubApp(keys);
    github.installations.set(INSTALLATION, [
      {
        name: "app",
        full_name: "acme/app",
        clone_url: "https://github.com/acme/app.git",
        default_branch: "main",
      },
      {
        name: "other",
        full_name: "acme/other",
        clone_url: "https://github.com/acme/other.git",
        default_branch: "main",
      },
    ]);
    slack = await new FakeSlack().listen();
    linear = await startRecordingApi(() => ({
      status: 200,
      body: { data: { commentCreate: { success: true } } },
    }));
    jira = await startRecordingApi(() => ({ status: 201, body: { id: "10001" } }));
    const encryptionKey = randomBytes(32).toString("base64");
    rt = await startTestRuntime("postgres", {
      ENCRYPTION_KEY: encryptionKey,
      ...githubAppEnv(github.url, keys.privateKey),
      SLACK_API_URL: slack.url,
      SLACK_BOT_TOKEN,
      SLACK_SIGNING_SECRET: "test-slack-signing-secret",
      LINEAR_API_URL: `${linear.url}/graphql`,
      LINEAR_API_KEY,
      JIRA_BASE_URL: jira.url,
      JIRA_EMAIL,
      JIRA_API_TOKEN,
    });
    const db = rt.database.db;
    const [installation] = await db
      .insert(schema.installations)
      .values({ orgId: rt.defaultOrgId, provider: "github", externalId: String(INSTALLATION) })
      .returning();
    const [repo] = await db
      .insert(schema.repositories)
      .values({
        orgId: rt.defaultOrgId,
        name: "acme/app",
        cloneUrl: "https://github.com/acme/app.git",
        installationId: installation!.id,
      })
      .returning();
    await db.insert(schema.repositories).values({
      orgId: rt.defaultOrgId,
      name: "acme/other",
      cloneUrl: "https://github.com/acme/other.git",
      installationId: installation!.id,
    });
    repositoryId = repo!.id;
    await db.insert(schema.installations).values({
      orgId: rt.defaultOrgId,
      provider: "slack",
      externalId: SLACK_TEAM,
      data: {},
      credentialsEncrypted: encryptSecret(
        encryptionKey,
        JSON.stringify({ botToken: SLACK_INSTALLED_TOKEN }),
      ),
    });
    const [bound, unbound] = await db
      .insert(schema.sessions)
      .values([
        { orgId: rt.defaultOrgId, repositoryId, prompt: "p", source: "slack" },
        { orgId: rt.defaultOrgId, repositoryId, prompt: "q" },
      ])
      .returning();
    sessionId = bound!.id;
    unboundSessionId = unbound!.id;
    await db.insert(schema.sessionBindings).values({
      sessionId,
      provider: "slack",
      threadKey: `${SLACK_TEAM}:C0GENERAL:1700000000.000100`,
    });
    link = sessionUrl(rt.config.PUBLIC_URL, sessionId);

    caDir = mkdtempSync(path.join(tmpdir(), "tandem-gateway-ca-"));
    ca = await loadOrCreateCa(path.join(caDir, "ca"));
    caFile = path.join(caDir, "trusted.pem");
    writeFileSync(caFile, ca.certPem);
    const { logger } = capturingLogger(logLines);
    interceptor = createIntegrationInterceptor(
      {
        config: rt.config,
        logger,
        integrations: rt.providers.flatMap((p) => (p.integration ? [p.integration] : [])),
      },
      ca,
      { maxBodyBytes: 64 * 1024 },
    );
    main = await proxyFor(sessionGrant());
  });
  afterAll(async () => {
    await Promise.all(dispatchers.map((d) => d.close()));
    interceptor?.close();
    for (const p of proxies) {
      p.closeAllConnections();
      await new Promise((r) => p.close(r));
    }
    await rt?.close();
    await Promise.all([github?.close(), slack?.close(), linear?.close(), jira?.close()]);
    if (caDir) rmSync(caDir, { recursive: true, force: true });
  });

  describe("the CA", () => {
    it("keeps its key in its directory with mode 0600, publishes a certificate without it, and loads the same CA again", async () => {
      const dir = path.join(caDir, "ca");
      expect(statSync(path.join(dir, "ca-key.pem")).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o077).toBe(0);
      expect(readFileSync(path.join(dir, "ca-key.pem"), "utf8")).toContain("PRIVATE KEY");
      expect(ca.certPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
      expect(ca.certPem).not.toMatch(/PRIVATE KEY/);
      expect((await loadOrCreateCa(dir)).certPem).toBe(ca.certPem);
    });

    it("is what a client must trust: without it, or with another CA, the handshake fails and nothing is forwarded", async () => {
      const before = slack.calls.length;
      const untrusting = await curl(main, "https://slack.com/api/auth.test");
      expect(untrusting.code).toBe(60); // curl: peer certificate cannot be authenticated
      const other = await loadOrCreateCa(path.join(caDir, "other"));
      const otherFile = path.join(caDir, "other.pem");
      writeFileSync(otherFile, other.certPem);
      expect(
        (await curl(main, "https://slack.com/api/auth.test", "--cacert", otherFile)).code,
      ).toBe(60);
      await expect(
        fetchVia(main, null)("https://slack.com/api/auth.test", { method: "POST" }),
      ).rejects.toThrow();
      expect(slack.calls.length).toBe(before);
      expect((await curl(main, "https://slack.com/api/auth.test", "--cacert", caFile)).status).toBe(
        200,
      );
    });
  });

  describe("GitHub", () => {
    it("forwards Octokit's calls with an installation token for the session's repository only, never the placeholder", async () => {
      const res = await octokitVia(main).request(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        { owner: "acme", repo: "app", issue_number: 7, body: "Done." },
      );
      expect(res.status).toBe(201);
      const call = github.calls.at(-1)!;
      expect(call).toMatchObject({
        method: "POST",
        path: "/repos/acme/app/issues/7/comments",
        auth: "token",
      });
      expect(call.installationToken).not.toBe(PLACEHOLDER);
      const token = github.tokens.find((t) => t.token === call.installationToken)!;
      expect(token).toMatchObject({
        installationId: INSTALLATION,
        repositories: ["app"],
        permissions: { contents: "read", issues: "write", pull_requests: "write" },
      });
    });

    it("appends the View session link once to a new comment, and leaves an edit that already carries it as it is", async () => {
      const octokit = octokitVia(main);
      const created = await octokit.request(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        { owner: "acme", repo: "app", issue_number: 8, body: "Fixed the greeting." },
      );
      const comment = github.comments.find((c) => c.id === created.data.id)!;
      expect(comment.body).toBe(`Fixed the greeting.\n\n[View session](${link})`);
      await octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", {
        owner: "acme",
        repo: "app",
        comment_id: comment.id,
        body: `${comment.body}\n\nAlso the farewell.`,
      });
      expect(comment.edits).toEqual([
        `Fixed the greeting.\n\n[View session](${link})\n\nAlso the farewell.`,
      ]);
      expect(comment.body.split(link)).toHaveLength(2);
    });

    it("links issues and pull requests on create (a missing body becomes the link); an edit that leaves the body alone gets none", async () => {
      const octokit = octokitVia(main);
      await octokit.request("POST /repos/{owner}/{repo}/issues", {
        owner: "acme",
        repo: "app",
        title: "Flaky test",
      });
      expect(github.issues.at(-1)).toMatchObject({
        title: "Flaky test",
        body: `[View session](${link})`,
      });
      const pr = await octokit.request("POST /repos/{owner}/{repo}/pulls", {
        owner: "acme",
        repo: "app",
        title: "Greeting",
        head: "tandem/greeting",
        base: "main",
        body: "Longer greeting.",
      });
      const pull = github.pulls.find((p) => p.number === pr.data.number)!;
      expect(pull.body).toBe(`Longer greeting.\n\n[View session](${link})`);
      await octokit.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", {
        owner: "acme",
        repo: "app",
        pull_number: pull.number,
        title: "Longer greeting",
      });
      expect(github.calls.at(-1)!.body).toEqual({ title: "Longer greeting" });
      expect(pull.body).toBe(`Longer greeting.\n\n[View session](${link})`);
    });

    it("links GraphQL addComment, createPullRequest and updatePullRequest bodies, in variables and inline strings", async () => {
      const octokit = octokitVia(main);
      await octokit.graphql(
        "mutation($input: AddCommentInput!) { addComment(input: $input) { clientMutationId } }",
        { input: { subjectId: "I_1", body: "From gh." } },
      );
      expect(github.calls.at(-1)).toMatchObject({ path: "/graphql", auth: "token" });
      expect(github.calls.at(-1)!.body.variables.input.body).toBe(
        `From gh.\n\n[View session](${link})`,
      );

      await octokit.graphql(
        `mutation($id: ID!) { updatePullRequest(input: {pullRequestId: $id, body: "Inline \\"quoted\\" body"}) { clientMutationId } }`,
        { id: "PR_1" },
      );
      expect(github.calls.at(-1)!.body.query).toContain(
        JSON.stringify(`Inline "quoted" body\n\n[View session](${link})`),
      );

      await octokit.graphql(
        'mutation($repo: ID!, $body: String) { createPullRequest(input: {repositoryId: $repo, baseRefName: "main", headRefName: "b", title: "T", body: $body}) { clientMutationId } }',
        { repo: "R_1", body: `Has it: ${link}` },
      );
      expect(github.calls.at(-1)!.body.variables.body).toBe(`Has it: ${link}`);

      await octokit.graphql("query { viewer { login } }");
      expect(github.calls.at(-1)!.body.query).toBe("query { viewer { login } }");
    });

    it("refuses git over https to github.com, pointing at Tandem's git remote", async () => {
      const before = github.calls.length;
      const res = await curl(
        main,
        "https://github.com/acme/app.git/info/refs?service=git-upload-pack",
        "--cacert",
        caFile,
        "-A",
        "git/2.39.5",
      );
      expect(res.status).toBe(403);
      expect(res.body).toMatch(
        /^git over https to github\.com does not go through this gateway: this sandbox's git remote is Tandem's/,
      );
      expect(github.calls.length).toBe(before);
    });

    it("answers 413 to a write whose body is past the cap, before anything is forwarded", async () => {
      const before = github.calls.length;
      const err = await octokitVia(main)
        .request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
          owner: "acme",
          repo: "app",
          issue_number: 9,
          body: "x".repeat(100 * 1024),
        })
        .catch((e: { status: number; response?: { data: unknown } }) => e);
      expect(err).toMatchObject({ status: 413 });
      expect(String((err as { response: { data: unknown } }).response.data)).toContain(
        "up to 65536 bytes",
      );
      expect(github.calls.length).toBe(before);
    });
  });

  describe("Slack", () => {
    it("posts with the bound workspace's bot token, not the placeholder (header or form token), the link appended to the text", async () => {
      const res = await curl(
        main,
        "https://slack.com/api/chat.postMessage",
        "--cacert",
        caFile,
        "-H",
        `Authorization: Bearer ${PLACEHOLDER}`,
        "-d",
        `token=${PLACEHOLDER}`,
        "-d",
        "channel=C0GENERAL",
        "-d",
        "text=Tests pass.",
      );
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ ok: true });
      const call = slack.calls.at(-1)!;
      expect(call).toMatchObject({ method: "chat.postMessage", token: SLACK_INSTALLED_TOKEN });
      expect(call.body.token).toBeUndefined();
      expect(call.body.text).toBe(`Tests pass.\n\n<${link}|View session>`);
    });

    it("adds a context block to a JSON message with blocks, and leaves an update that carries the link as it is", async () => {
      const message = {
        channel: "C0GENERAL",
        text: "Done",
        blocks: [{ type: "section", text: { type: "mrkdwn", text: "*Done*" } }],
      };
      await curl(
        main,
        "https://slack.com/api/chat.postMessage",
        "--cacert",
        caFile,
        "-H",
        `Authorization: Bearer ${PLACEHOLDER}`,
        "-H",
        "content-type: application/json; charset=utf-8",
        "--data-binary",
        JSON.stringify(message),
      );
      const posted = slack.calls.at(-1)!;
      expect(posted.body.text).toBe(`Done\n\n<${link}|View session>`);
      expect(posted.body.blocks).toEqual([
        ...message.blocks,
        { type: "context", elements: [{ type: "mrkdwn", text: `<${link}|View session>` }] },
      ]);

      const update = {
        channel: "C0GENERAL",
        ts: "1.2",
        text: posted.body.text,
        blocks: posted.body.blocks,
      };
      await curl(
        main,
        "https://slack.com/api/chat.update",
        "--cacert",
        caFile,
        "-H",
        "content-type: application/json",
        "--data-binary",
        JSON.stringify(update),
      );
      expect(slack.calls.at(-1)).toMatchObject({
        method: "chat.update",
        body: update,
        token: SLACK_INSTALLED_TOKEN,
      });
    });

    it("uses SLACK_BOT_TOKEN for a session that did not come from a Slack workspace, and links its own session", async () => {
      const port = await proxyFor(sessionGrant(unboundSessionId));
      await curl(
        port,
        "https://slack.com/api/chat.postMessage",
        "--cacert",
        caFile,
        "-d",
        "channel=C1",
        "-d",
        "text=hi",
      );
      expect(slack.calls.at(-1)).toMatchObject({
        token: SLACK_BOT_TOKEN,
        body: {
          text: `hi\n\n<${sessionUrl(rt.config.PUBLIC_URL, unboundSessionId)}|View session>`,
        },
      });
    });
  });

  describe("Linear and Jira", () => {
    it("sends Linear's commentCreate with LINEAR_API_KEY and the link in the comment", async () => {
      const res = await fetchVia(main)("https://api.linear.app/graphql", {
        method: "POST",
        headers: { authorization: PLACEHOLDER, "content-type": "application/json" },
        body: JSON.stringify({
          query:
            'mutation { commentCreate(input: {issueId: "ISS-1", body: "Shipped."}) { success } }',
        }),
      });
      expect(res.status).toBe(200);
      const call = linear.calls.at(-1)!;
      expect(call).toMatchObject({ method: "POST", path: "/graphql" });
      expect(call.headers.authorization).toBe(LINEAR_API_KEY);
      expect(call.body.query).toBe(
        `mutation { commentCreate(input: {issueId: "ISS-1", body: ${JSON.stringify(`Shipped.\n\n[View session](${link})`)}}) { success } }`,
      );
    });

    it("sends a Jira comment as JIRA_EMAIL with the API token, its ADF ending in a linked paragraph, once", async () => {
      const post = (body: unknown) =>
        fetchVia(main)("https://127.0.0.1/rest/api/3/issue/ABC-1/comment", {
          method: "POST",
          headers: {
            authorization: `Basic ${Buffer.from(`x:${PLACEHOLDER}`).toString("base64")}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ body }),
        });
      const doc = {
        type: "doc",
        version: 1,
        content: [{ type: "paragraph", content: [{ type: "text", text: "Merged." }] }],
      };
      expect((await post(doc)).status).toBe(201);
      const call = jira.calls.at(-1)!;
      expect(call.headers.authorization).toBe(
        `Basic ${Buffer.from(`${JIRA_EMAIL}:${JIRA_API_TOKEN}`).toString("base64")}`,
      );
      const linked = {
        ...doc,
        content: [
          ...doc.content,
          {
            type: "paragraph",
            content: [
              {
                type: "text",
                text: "View session",
                marks: [{ type: "link", attrs: { href: link } }],
              },
            ],
          },
        ],
      };
      expect(call.body).toEqual({ body: linked });
      await post(linked);
      expect(jira.calls.at(-1)!.body).toEqual({ body: linked });
    });
  });

  describe("who gets what", () => {
    it("does not intercept a host whose integration the profile does not expose: it falls to the policy", async () => {
      const port = await proxyFor(sessionGrant(), ["slack"]);
      const before = github.calls.length;
      const res = await curl(port, "https://api.github.com/repos/acme/app", "--cacert", caFile);
      expect(res.connectStatus).toBe(403);
      expect(github.calls.length).toBe(before);
      expect((await curl(port, "https://slack.com/api/auth.test", "--cacert", caFile)).status).toBe(
        200,
      );
      const none = await proxyFor(sessionGrant(), null);
      expect(
        (await curl(none, "https://slack.com/api/auth.test", "--cacert", caFile)).connectStatus,
      ).toBe(403);
    });

    it("answers 403 to a build sandbox, with no credential minted or sent", async () => {
      const port = await proxyFor({
        orgId: rt.defaultOrgId,
        repositoryIds: [repositoryId],
        purpose: "snapshot",
      });
      const [calls, tokens, slackCalls] = [
        github.calls.length,
        github.tokens.length,
        slack.calls.length,
      ];
      const err = await octokitVia(port)
        .request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "app" })
        .catch((e: { status: number; response: { data: unknown } }) => e);
      expect(err).toMatchObject({ status: 403 });
      expect(String((err as { response: { data: unknown } }).response.data)).toContain(
        "GitHub is not reachable from this sandbox (snapshot): Tandem lends integration credentials to sessions only",
      );
      const res = await curl(
        port,
        "https://slack.com/api/chat.postMessage",
        "--cacert",
        caFile,
        "-d",
        "channel=C1",
        "-d",
        "text=hi",
      );
      expect(res.status).toBe(403);
      expect([github.calls.length, github.tokens.length, slack.calls.length]).toEqual([
        calls,
        tokens,
        slackCalls,
      ]);
    });

    it("logs each forwarded call with its sessionId and never a credential", async () => {
      const forwarded = logLines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.msg === "integration.forwarded");
      expect(forwarded.length).toBeGreaterThan(5);
      expect(
        forwarded.every((l) => l.sessionId === sessionId || l.sessionId === unboundSessionId),
      ).toBe(true);
      expect(forwarded.map((l) => l.provider)).toEqual(
        expect.arrayContaining(["github", "slack", "linear", "jira"]),
      );
      const all = logLines.join("");
      for (const secret of [
        SLACK_BOT_TOKEN,
        SLACK_INSTALLED_TOKEN,
        LINEAR_API_KEY,
        JIRA_API_TOKEN,
        ...github.tokens.map((t) => t.token),
      ]) {
        expect(all).not.toContain(secret);
      }
    });

    it("is recorded as an intercepted connection, closed when the client leaves", async () => {
      await curl(main, "https://slack.com/api/auth.test", "--cacert", caFile);
      const rows = () =>
        rt.database.db
          .select()
          .from(schema.sandboxEgress)
          .where(
            and(
              eq(schema.sandboxEgress.sessionId, sessionId),
              eq(schema.sandboxEgress.host, "slack.com"),
            ),
          );
      const row = await untilDefined("a closed record for slack.com", async () =>
        (await rows()).find((r) => r.closedAt),
      );
      expect(row).toMatchObject({
        method: "CONNECT",
        port: 443,
        decision: "intercepted",
        reason: "integration",
      });
      expect(row.bytesUp).toBeGreaterThan(300); // the TLS hello and the request
      expect(row.bytesDown).toBeGreaterThan(1000); // the leaf certificate, at least
    });
  });
});
