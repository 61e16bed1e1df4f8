import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { FakeGitHub } from "../fixtures/fake-github.ts";
import { FakeSlack } from "../fixtures/fake-slack.ts";
import type { GitHttpServer } from "../fixtures/git-http-server.ts";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  sessionEvents,
  startGitServer,
  type TestGit,
} from "../helpers/e2e.ts";
import { appKeys, githubAppEnv, installGitHubApp } from "../helpers/github.ts";
import { startFakeGitHubApp, startInstallationGitServer } from "../helpers/github-app.ts";
import { finishedSnapshot, removeImages, snapshotImageRefs } from "../helpers/profiles.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const GIT_PASSWORD = "test-git-password-boundary";
/** A server session B runs in its sandbox, on a port session A then tries. */
const OTHER_PORT = 8123;

/**
 * What the agent tries, as the agent user, in a live gateway sandbox with the default settings:
 * one line per attempt, `<name> code=<exit code> <output>`.
 */
const probes = (tandemPort: number, gitHost: string) => `set +e
t=$(cat "$TANDEM_TOKEN_FILE")
probe() { name=$1; shift; out=$("$@" 2>&1); code=$?; echo "$name code=$code $(printf %s "$out" | tr '\\n' ' ' | cut -c1-200)"; }
probe pg-direct curl -sS -m 3 --noproxy '*' http://127.0.0.1:5432/
probe pg-proxy curl -sS -m 3 --noproxy '' --proxy "$HTTP_PROXY" http://127.0.0.1:5432/
probe redis-direct curl -sS -m 3 --noproxy '*' http://127.0.0.1:6379/
probe redis-proxy curl -sS -m 3 --noproxy '' --proxy "$HTTP_PROXY" http://127.0.0.1:6379/
probe tandem-direct curl -sS -m 3 --noproxy '*' http://127.0.0.1:${tandemPort}/metrics
probe tandem-metrics curl -sS -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:3129/metrics
probe tandem-openapi curl -sS -m 3 -o /dev/null -w '%{http_code}' http://127.0.0.1:3129/api/openapi.json
probe metadata-direct curl -sS -m 3 --noproxy '*' http://169.254.169.254/latest/meta-data/
probe metadata-proxy curl -sS -m 3 http://169.254.169.254/latest/meta-data/
probe other-sandbox curl -sS -m 3 http://127.0.0.1:${OTHER_PORT}/
probe external curl -sS -m 5 https://example.com/
probe model-files curl -sS -m 3 -o /dev/null -w '%{http_code}' -H "authorization: Bearer $t" http://127.0.0.1:3129/proxy/model/v1/files
probe credential-route curl -sS -m 3 -o /dev/null -w '%{http_code}' -X POST -H "authorization: Bearer $t" --data 'protocol=http' http://127.0.0.1:3129/sandbox/git-credential
probe credential-fill sh -c "printf 'protocol=http\\nhost=${gitHost}\\npath=acme/app.git\\n\\n' | git credential fill"
git -c user.name=a -c user.email=a@a commit -q --allow-empty -m "moved by the agent"
probe push-main git push origin HEAD:main
echo probes-done`;

describe.skipIf(!dockerAvailable())(
  "the sandbox boundary: a scripted agent in a live gateway sandbox",
  () => {
    let git: TestGit;
    let model: ModelServer;
    let s: Stack;
    let output = "";

    const commandOutputs = async (id: string) =>
      (await sessionEvents(s, id))
        .filter((e) => e.type === "command")
        .map((e) => String((e.data as { output?: string }).output ?? ""));
    const line = (name: string) =>
      output.split("\n").find((l) => l.startsWith(`${name} `)) ?? `${name} (missing)`;
    const mainRef = () =>
      spawnSync("git", ["-C", path.join(git.root, "acme/app.git"), "rev-parse", "refs/heads/main"])
        .stdout.toString()
        .trim();

    beforeAll(async () => {
      git = await startGitServer(
        { username: "u", password: GIT_PASSWORD },
        { "acme/app": { "README.md": "# app\n" } },
      );
      model = await new ModelServer([
        // Session B: a server in its sandbox, kept up while A tries to reach it.
        {
          shell: `node -e "require('http').createServer((q, r) => r.end('session-b-secret')).listen(${OTHER_PORT})" & sleep 120`,
        },
      ]).listen();
      s = await startStack("postgres", {
        ...dockerModelEnv(model),
      });
      expect(s.rt.config.SANDBOX_NETWORK).toBe("gateway");
      await registerRepository(s, git, "acme/app");
    }, 60_000);
    afterAll(async () => {
      await s?.close();
      await model?.close();
      await git?.close();
    });

    it("every attempt to get out fails, and the egress record lists the blocked ones", async () => {
      const sessionB = (
        await s.owner.request("POST", "/api/sessions", { repository: "acme/app", prompt: "serve" })
      ).body.id as string;
      await until(
        "B's server",
        async () => {
          const row = await sandboxOf(s, sessionB);
          if (!row?.externalId) return null;
          const probe = spawnSync("docker", [
            "exec",
            row.externalId,
            "curl",
            "-sS",
            "-m",
            "2",
            `http://127.0.0.1:${OTHER_PORT}/`,
          ]);
          return probe.stdout.toString() === "session-b-secret";
        },
        90_000,
      );
      // Not on the host either: the sandbox's ports are its own.
      await expect(fetch(`http://127.0.0.1:${OTHER_PORT}/`)).rejects.toThrow();
      const before = mainRef();

      model.script.push(
        { shell: probes(Number(new URL(s.base).port), new URL(git.url("acme/app")).host) },
        { message: "tried everything" },
      );
      const sessionA = (
        await s.owner.request("POST", "/api/sessions", { repository: "acme/app", prompt: "escape" })
      ).body.id as string;
      output = await until(
        "the probes",
        async () => (await commandOutputs(sessionA)).find((o) => o.includes("probes-done")),
        120_000,
      );

      for (const name of [
        "pg-direct",
        "redis-direct",
        "tandem-direct",
        "metadata-direct",
        "other-sandbox",
      ]) {
        expect(line(name), name).not.toMatch(/ code=0 /);
      }
      for (const name of ["pg-proxy", "redis-proxy", "metadata-proxy"]) {
        expect(line(name), name).toMatch(/blocked by the sandbox network policy: /);
      }
      expect(line("external")).toMatch(/403/);
      expect(line("external")).not.toMatch(/ code=0 /);
      expect(line("tandem-metrics")).toMatch(/ 404$/);
      expect(line("tandem-openapi")).toMatch(/ 404$/);
      expect(line("model-files")).toMatch(/ 404$/);
      expect(line("credential-route")).toMatch(/ 404$/);
      expect(line("credential-fill")).not.toMatch(/ code=0 /);
      expect(line("push-main")).toMatch(/remote: Tandem: this session may only push to tandem\//);
      expect(line("push-main")).not.toMatch(/ code=0 /);
      expect(output).not.toContain(GIT_PASSWORD);
      expect(output).not.toContain("session-b-secret");
      expect(mainRef()).toBe(before);

      const network = (await s.owner.request("GET", `/api/sessions/${sessionA}/network`)).body
        .connections as Array<{ host: string; port: number; decision: string }>;
      const blocked = network
        .filter((c) => c.decision === "blocked")
        .map((c) => `${c.host}:${c.port}`);
      expect(blocked).toEqual(
        expect.arrayContaining([
          "127.0.0.1:5432",
          "127.0.0.1:6379",
          "169.254.169.254:80",
          "example.com:443",
        ]),
      );
      expect(network.filter((c) => c.decision !== "blocked")).toEqual([]);
      const metrics = await (await fetch(`${s.base}/metrics`)).text();
      expect(metrics).toMatch(/tandem_sandbox_egress_total\{decision="blocked"\} [1-9]/);
    }, 240_000);
  },
);

const SLACK_TOKEN = "test-slack-bot-token-boundary";

/** The agent's writes through the gateway, and what it may reach under an allowlist. */
const integrationProbes = `set +e
probe() { name=$1; shift; out=$("$@" 2>&1); code=$?; echo "$name code=$code $(printf %s "$out" | tr '\n' ' ' | cut -c1-300)"; }
probe slack curl -sS -m 10 https://slack.com/api/chat.postMessage -H "authorization: Bearer $GH_TOKEN" -H 'content-type: application/json' --data '{"channel":"C0BOUNDARY","text":"the fix is ready"}'
probe allowed curl -sS -m 5 http://allowed.tandem.test/
probe not-allowed curl -sS -m 5 http://other.tandem.test/
probe not-allowed-tls curl -sS -m 5 https://registry.npmjs.org/
git -c user.name=a -c user.email=a@a commit -q --allow-empty -m "the agent's work"
probe push-branch git push origin "HEAD:refs/heads/$(git rev-parse --abbrev-ref HEAD)"
probe env sh -c 'env | grep -iE "token|secret|password|key" | sort'
echo probes-done`;

describe.skipIf(!dockerAvailable())(
  "the agent's tools through the gateway, credentials outside",
  () => {
    let git: TestGit;
    let model: ModelServer;
    let slack: FakeSlack;
    let allowed: http.Server;
    let s: Stack;

    beforeAll(async () => {
      git = await startGitServer(
        { username: "u", password: GIT_PASSWORD },
        { "acme/app": { "README.md": "# app\n" } },
      );
      slack = await new FakeSlack().listen();
      allowed = http.createServer((_req, res) => res.end("allowed-host-answered"));
      await new Promise<void>((resolve) => allowed.listen(0, "127.0.0.1", resolve));
      model = await new ModelServer([{ shell: integrationProbes }, { message: "done" }]).listen();
      s = await startStack("postgres", {
        ...dockerModelEnv(model),
        SLACK_API_URL: slack.url,
        SLACK_BOT_TOKEN: SLACK_TOKEN,
        SLACK_SIGNING_SECRET: "test-slack-signing-secret",
        // Loopback targets the egress proxy reaches only by these names, and only when the policy allows them.
        SANDBOX_HOST_ALIASES: `allowed.tandem.test=127.0.0.1:${(allowed.address() as AddressInfo).port},other.tandem.test=127.0.0.1:${(allowed.address() as AddressInfo).port}`,
      });
      await registerRepository(s, git, "acme/app");
    }, 60_000);
    afterAll(async () => {
      const images = await snapshotImageRefs(s);
      await s?.close();
      removeImages(images);
      await model?.close();
      await slack?.close();
      allowed?.close();
      await git?.close();
    });

    it("posts to Slack with the real token and the View session link added once, pushes its branch, and reaches only allowed hosts", async () => {
      const draft = await s.owner.request("PUT", "/api/profiles/default/draft", {
        spec: {
          repositories: [{ name: "acme/app" }],
          network: { egress: "allowlist", allow: ["allowed.tandem.test"] },
        },
      });
      expect(draft.status).toBe(200);
      expect((await s.owner.request("POST", "/api/profiles/default/publish")).status).toBe(202);
      expect((await finishedSnapshot(s, "default")).status).toBe("ready");

      const id = (
        await s.owner.request("POST", "/api/sessions", {
          repository: "acme/app",
          prompt: "tell the team",
        })
      ).body.id as string;
      const output = await until(
        "the probes",
        async () => {
          const events = await sessionEvents(s, id);
          return events
            .map((e) => String((e.data as { output?: string }).output ?? ""))
            .find((o) => o.includes("probes-done"));
        },
        120_000,
      );
      const line = (name: string) =>
        output.split("\n").find((l) => l.startsWith(`${name} `)) ?? `${name} (missing)`;

      // Slack got the bot token, not the sandbox's placeholder, and the link once.
      const link = `${s.rt.config.PUBLIC_URL.replace(/\/$/, "")}/sessions/${id}`;
      const [posted] = slack.callsTo("chat.postMessage", (c) => c.body.channel === "C0BOUNDARY");
      expect(posted).toBeDefined();
      expect(posted!.token).toBe(SLACK_TOKEN);
      expect(String(posted!.body.text).split(link).length - 1).toBe(1);
      expect(String(posted!.body.text)).toMatch(/^the fix is ready/);
      expect(line("slack")).toMatch(/"ok":\s*true/);

      expect(line("allowed")).toContain("allowed-host-answered");
      expect(line("not-allowed")).toContain(
        "blocked by the sandbox network policy: other.tandem.test is not allowed (profile default v2)",
      );
      expect(line("not-allowed-tls")).not.toMatch(/ code=0 /);

      const branch = `tandem/${id.slice(0, 8)}`;
      expect(line("push-branch")).not.toMatch(/rejected|fatal/);
      expect(
        spawnSync("git", [
          "-C",
          path.join(git.root, "acme/app.git"),
          "rev-parse",
          "--verify",
          `refs/heads/${branch}`,
        ]).status,
      ).toBe(0);

      // Only placeholders: no real credential in the sandbox's environment.
      expect(line("env")).toContain("GH_TOKEN=tandem-placeholder");
      for (const secret of [SLACK_TOKEN, GIT_PASSWORD, "test-upstream-key"])
        expect(output).not.toContain(secret);

      const connections = (await s.owner.request("GET", `/api/sessions/${id}/network`)).body
        .connections as Array<{ host: string; decision: string }>;
      expect(connections).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ host: "slack.com", decision: "intercepted" }),
          expect.objectContaining({ host: "allowed.tandem.test", decision: "allowed" }),
          expect.objectContaining({ host: "other.tandem.test", decision: "blocked" }),
          expect.objectContaining({ host: "registry.npmjs.org", decision: "blocked" }),
        ]),
      );
    }, 240_000);
  },
);

describe.skipIf(!dockerAvailable())(
  "gh in the sandbox, through the gateway, as the GitHub App",
  () => {
    const INSTALLATION = 93;
    const REPO = "acme/widgets";
    let fake: FakeGitHub;
    let git: GitHttpServer;
    let model: ModelServer;
    let s: Stack;

    beforeAll(async () => {
      const keys = appKeys();
      fake = await startFakeGitHubApp(keys);
      git = await startInstallationGitServer(fake);
      git.createRepo(REPO, { "README.md": "# widgets\n" });
      fake.installations.set(INSTALLATION, [
        { name: "widgets", full_name: REPO, clone_url: git.url(REPO), default_branch: "main" },
      ]);
      model = await new ModelServer([
        {
          shell: `gh issue comment 7 --repo ${REPO} --body "The fix is on the session branch." 2>&1; echo "gh exit $?"; git -c user.name=a -c user.email=a@a commit -q --allow-empty -m work && git push -q origin "HEAD:refs/heads/$(git rev-parse --abbrev-ref HEAD)" 2>&1; echo "push exit $?"`,
        },
        { message: "commented" },
      ]).listen();
      s = await startStack("postgres", {
        ...dockerModelEnv(model),
        ...githubAppEnv(fake.url, keys.privateKey),
      });
      await installGitHubApp(s, { installationId: INSTALLATION, account: "acme", repo: REPO });
    }, 120_000);
    afterAll(async () => {
      await s?.close();
      await model?.close();
      await git?.close();
      await fake?.close();
    });

    it("`gh issue comment` reaches GitHub with an installation token and the View session link once; the branch push uses one too", async () => {
      const id = (
        await s.owner.request("POST", "/api/sessions", {
          repository: REPO,
          prompt: "comment on #7",
        })
      ).body.id as string;
      const output = await until(
        "the agent's command",
        async () => {
          const events = await sessionEvents(s, id);
          return events
            .map((e) => String((e.data as { output?: string }).output ?? ""))
            .find((o) => o.includes("push exit"));
        },
        120_000,
      );
      expect(output).toContain("gh exit 0");
      expect(output).toContain("push exit 0");
      const [comment] = fake.commentsOn(REPO, 7);
      expect(comment).toBeDefined();
      const link = `${s.rt.config.PUBLIC_URL.replace(/\/$/, "")}/sessions/${id}`;
      expect(comment!.body.startsWith("The fix is on the session branch.")).toBe(true);
      expect(comment!.body.split(link).length - 1).toBe(1);
      // gh sent the placeholder; GitHub saw a real, narrowed installation token.
      const graphql = fake.calls.filter((c) => c.path === "/graphql");
      expect(graphql.length).toBeGreaterThan(0);
      for (const call of graphql) {
        expect(call.auth).toBe("token");
        expect(fake.validToken(call.installationToken!)!.repositories).toEqual(["widgets"]);
      }
      expect(
        spawnSync("git", [
          "-C",
          path.join(git.root, `${REPO}.git`),
          "rev-parse",
          "--verify",
          `refs/heads/tandem/${id.slice(0, 8)}`,
        ]).status,
      ).toBe(0);
    }, 240_000);
  },
);
