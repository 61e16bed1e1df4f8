import { execFile, execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GIT_CREDENTIAL_HELPER_SCRIPT, gitCredentialConfig, hashToken, issueBuildToken, issueSandboxToken, revokeBuildToken, schema, type Logger,
} from "@tandem/core";
import { buildApp } from "@tandem/web";
import { startGitHttpServer, type GitHttpServer } from "./fixtures/git-http-server.ts";
import { apiClient, otherOrganization, ownerToken, type ApiClient } from "./helpers/api.ts";
import { DB_KINDS, startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

const run = promisify(execFile);
const USERNAME = "tandem-bot";
const PASSWORD = `test-git-password-${randomBytes(8).toString("hex")}`;
const FILES = { "README.md": "# app\n", "src/index.ts": "export const answer = 42;\n" };

describe.each(DB_KINDS)("git credentials for the sandbox on %s", (kind) => {
  let git: GitHttpServer;
  let rt: TestRuntime;
  let app: FastifyInstance;
  let base: string;
  let owner: ApiClient;
  let work: string;
  let cloneUrl: string;
  const logLines: string[] = [];
  const responses: string[] = [];

  /** A sandbox-like environment: HOME with the helper installed, the token in a file. */
  const sandboxEnv = (token: string) => {
    const dir = mkdtempSync(path.join(work, "sandbox-"));
    const helper = path.join(dir, "tandem-git-credential");
    writeFileSync(helper, GIT_CREDENTIAL_HELPER_SCRIPT, { mode: 0o755 });
    writeFileSync(path.join(dir, "token"), `${token}\n`);
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0",
      TANDEM_CONTROL_URL: base,
      TANDEM_TOKEN_FILE: path.join(dir, "token"),
    };
    for (const [cmd, ...args] of gitCredentialConfig(helper)) execFileSync(cmd!, args, { env });
    return { dir, env, helper };
  };
  const clone = async (token: string) => {
    const { dir, env } = sandboxEnv(token);
    const dest = path.join(dir, "checkout");
    try {
      await run("git", ["clone", "-q", cloneUrl, dest], { env });
      return { ok: true as const, dest, stderr: "" };
    } catch (err) {
      return { ok: false as const, dest, stderr: String((err as { stderr?: string }).stderr) };
    }
  };
  const ask = async (token: string, body: string) => {
    const res = await fetch(`${base}/sandbox/git-credential`, {
      method: "POST", body, headers: { authorization: `Bearer ${token}`, "content-type": "text/plain" },
    });
    return { status: res.status, text: await res.text() };
  };
  const newSession = async (client: ApiClient) => {
    const created = await client.request("POST", "/api/sessions", { repository: "acme/app", prompt: "hi" });
    expect(created.status).toBe(201);
    return { id: created.body.id as string, token: await issueSandboxToken(rt.database.db, created.body.id) };
  };
  const record = async (call: Promise<{ status: number; body: unknown }>) => {
    const res = await call;
    responses.push(JSON.stringify(res.body));
    return res;
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "tandem-git-cred-"));
    git = await startGitHttpServer({ username: USERNAME, password: PASSWORD });
    git.createRepo("acme/app", FILES);
    cloneUrl = git.url("acme/app");
    rt = await startTestRuntime(kind, { ENCRYPTION_KEY: randomBytes(32).toString("base64") });
    const logger = pino({ level: "debug" }, new Writable({ write(c, _e, cb) { logLines.push(String(c)); cb(); } }));
    app = await buildApp({ ...rt, logger: logger as unknown as Logger });
    base = await app.listen({ port: 0, host: "127.0.0.1" });
    owner = apiClient(app, await ownerToken(rt));
    const created = await record(owner.request("POST", "/api/repositories", {
      name: "acme/app", cloneUrl, credential: { username: USERNAME, password: PASSWORD },
    }));
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
    await git?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the git server itself refuses a clone without the credential", async () => {
    const env = { PATH: process.env.PATH ?? "", HOME: work, GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" };
    await expect(run("git", ["clone", "-q", cloneUrl, path.join(work, "anonymous")], { env })).rejects.toThrow(/Authentication failed|could not read Username/);
  });

  it("clones through the helper with the session's token", async () => {
    const { token } = await newSession(owner);
    const before = git.requests.length;
    const result = await clone(token);
    expect(result.stderr).toBe("");
    expect(result.ok).toBe(true);
    for (const [file, content] of Object.entries(FILES)) expect(readFileSync(path.join(result.dest, file), "utf8")).toBe(content);
    expect(execFileSync("git", ["-C", result.dest, "rev-parse", "--abbrev-ref", "HEAD"]).toString().trim()).toBe("main");
    expect(git.requests.slice(before).some((r) => r.authorized)).toBe(true);
    // The helper stored nothing in the sandbox.
    expect(() => readFileSync(path.join(result.dest, "..", ".git-credentials"))).toThrow();
  });

  it("answers git's protocol: the matching remote only, https and http kept apart", async () => {
    const { token } = await newSession(owner);
    const url = new URL(cloneUrl);
    const host = url.host;
    const granted = await ask(token, `protocol=http\nhost=${host}\npath=acme/app.git\n\n`);
    expect(granted).toEqual({ status: 200, text: `username=${USERNAME}\npassword=${PASSWORD}\n` });
    expect((await ask(token, `protocol=http\nhost=${host}\n\n`)).status).toBe(200); // no path: one candidate
    for (const request of [
      `protocol=http\nhost=${host}\npath=acme/other.git\n`,
      `protocol=https\nhost=${host}\npath=acme/app.git\n`,
      `protocol=http\nhost=127.0.0.1:1\npath=acme/app.git\n`,
    ]) {
      expect(await ask(token, request), request).toEqual({ status: 404, text: "" });
    }
    expect((await ask(token, "nonsense")).status).toBe(400);
    expect((await ask("tdm_unknown", `protocol=http\nhost=${host}\npath=acme/app.git\n`)).status).toBe(401);
    expect((await ask(owner.token, `protocol=http\nhost=${host}\npath=acme/app.git\n`)).status).toBe(401);
  });

  it("does nothing for store and erase", () => {
    const { helper, env } = sandboxEnv("tdm_whatever");
    for (const action of ["store", "erase"]) {
      const result = spawnSync(helper, [action], { env, input: `protocol=http\nhost=x\nusername=a\npassword=b\n\n` });
      expect(result.status).toBe(0);
      expect(result.stdout.toString()).toBe("");
    }
  });

  it("stops answering when the session ends: the helper gets 401 and the clone fails", async () => {
    const { id, token } = await newSession(owner);
    expect((await owner.request("POST", `/api/sessions/${id}/stop`)).status).toBe(200);
    const res = await ask(token, `protocol=http\nhost=${new URL(cloneUrl).host}\npath=acme/app.git\n`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text).error.code).toBe("unauthorized");
    const before = git.requests.length;
    const result = await clone(token);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/Authentication failed|could not read Username/);
    expect(git.requests.slice(before).some((r) => r.authorized)).toBe(false);
  });

  it("answers a build token (no session) for its repositories only, until it is revoked or expires", async () => {
    git.createRepo("acme/lib", { "lib.txt": "lib\n" });
    const lib = await owner.request("POST", "/api/repositories", {
      name: "acme/lib", cloneUrl: git.url("acme/lib"), credential: { username: USERNAME, password: PASSWORD },
    });
    expect(lib.status).toBe(201);
    const appRepo = (await owner.request("GET", "/api/repositories")).body.repositories.find((r: { name: string }) => r.name === "acme/app");
    const deps = { db: rt.database.db, clock: rt.clock };
    const token = await issueBuildToken(deps, { orgId: rt.defaultOrgId, repositoryIds: [appRepo.id], purpose: "snapshot" });
    const host = new URL(cloneUrl).host;
    expect(await ask(token, `protocol=http\nhost=${host}\npath=acme/app.git\n`)).toEqual({ status: 200, text: `username=${USERNAME}\npassword=${PASSWORD}\n` });
    expect(await ask(token, `protocol=http\nhost=${host}\npath=acme/lib.git\n`)).toEqual({ status: 404, text: "" });
    expect((await clone(token)).ok).toBe(true);
    // Only the hash is stored.
    const rows = await rt.database.db.select().from(schema.sandboxTokens);
    expect(rows.map((r) => r.tokenHash)).toContain(hashToken(token));
    expect(JSON.stringify(rows)).not.toContain(token);

    await revokeBuildToken(rt.database.db, token);
    expect((await ask(token, `protocol=http\nhost=${host}\npath=acme/app.git\n`)).status).toBe(401);
    expect((await clone(token)).ok).toBe(false);

    const expired = await issueBuildToken(deps, { orgId: rt.defaultOrgId, repositoryIds: [appRepo.id], purpose: "snapshot", ttlMs: -1 });
    expect((await ask(expired, `protocol=http\nhost=${host}\npath=acme/app.git\n`)).status).toBe(401);
    // Another org's build token gets nothing for this org's repository, even when it names its id.
    const mallory = await otherOrganization(rt);
    const foreign = await issueBuildToken(deps, { orgId: mallory.org.id, repositoryIds: [appRepo.id], purpose: "snapshot" });
    expect(await ask(foreign, `protocol=http\nhost=${host}\npath=acme/app.git\n`)).toEqual({ status: 404, text: "" });
  });

  it("gives a session in another organization nothing for this repository", async () => {
    const mallory = apiClient(app, (await otherOrganization(rt)).token);
    expect((await mallory.request("POST", "/api/repositories", { name: "acme/app", cloneUrl })).status).toBe(201);
    const { token } = await newSession(mallory);
    expect(await ask(token, `protocol=http\nhost=${new URL(cloneUrl).host}\npath=acme/app.git\n`)).toEqual({ status: 404, text: "" });
    const result = await clone(token);
    expect(result.ok).toBe(false);
  });

  it("keeps the password out of every API response, the database and the log", async () => {
    const list = await record(owner.request("GET", "/api/repositories"));
    const repo = (list.body as { repositories: Array<Record<string, unknown>> }).repositories.find((r) => r.name === "acme/app");
    expect(repo).toMatchObject({ cloneUrl, hasCredential: true });
    expect(repo).not.toHaveProperty("credential");
    expect(responses.join("\n")).not.toContain(PASSWORD);

    const rows = await rt.database.db.select().from(schema.repositories);
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
    const stored = rows.find((r) => r.orgId === rt.defaultOrgId && r.name === "acme/app")!;
    expect(stored.credentialEncrypted).toMatch(/^v1:/);

    const log = logLines.join("");
    expect(log).toContain("git_credential.granted");
    expect(log).not.toContain(PASSWORD);
  });

  it("validates the credential and refuses to store one without ENCRYPTION_KEY", async () => {
    for (const credential of [{ username: USERNAME }, { username: "a", password: "b\nhost=evil" }, { username: "a", password: "b", token: "c" }]) {
      const res = await owner.request("POST", "/api/repositories", { name: "acme/bad", cloneUrl: "https://x.test/bad.git", credential });
      expect(res.status, JSON.stringify(credential)).toBe(400);
    }
    const ssh = await owner.request("POST", "/api/repositories", { name: "acme/ssh", cloneUrl: "git@x.test:acme/ssh.git", credential: { username: "a", password: "b" } });
    expect(ssh.status).toBe(400);
    expect(ssh.body.error.message).toMatch(/only used for http\(s\) remotes/);
    const keyless = await buildApp({ ...rt, config: { ...rt.config, ENCRYPTION_KEY: undefined } });
    try {
      const res = await apiClient(keyless, owner.token).request("POST", "/api/repositories", {
        name: "acme/keyless", cloneUrl: "https://x.test/keyless.git", credential: { username: "a", password: "b" },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/ENCRYPTION_KEY/);
      // Without a credential the key is not needed.
      const plain = await apiClient(keyless, owner.token).request("POST", "/api/repositories", { name: "acme/plain", cloneUrl: "https://x.test/plain.git" });
      expect(plain.status).toBe(201);
    } finally {
      await keyless.close();
    }
    const names = (await owner.request("GET", "/api/repositories")).body.repositories.map((r: { name: string }) => r.name);
    expect(names).not.toContain("acme/keyless");
    expect(names).not.toContain("acme/bad");
  });
});
