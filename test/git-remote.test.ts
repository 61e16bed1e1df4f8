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
  DEFAULT_NETWORK_POLICY,
  GIT_CREDENTIAL_HELPER_SCRIPT,
  gitCredentialConfig,
  hashToken,
  issueBuildToken,
  issueSandboxToken,
  revokeBuildToken,
  schema,
  sessionBranch,
  type Logger,
} from "@tandem/core";
import { buildApp } from "@tandem/web";
import { startGitHttpServer, type GitHttpServer } from "./fixtures/git-http-server.ts";
import { apiClient, otherOrganization, ownerToken, type ApiClient } from "./helpers/api.ts";
import { DB_KINDS, startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

const run = promisify(execFile);
const USERNAME = "tandem-bot";
const PASSWORD = `test-git-password-${randomBytes(8).toString("hex")}`;
const FILES = { "README.md": "# app\n", "src/index.ts": "export const answer = 42;\n" };
const BUILD = { purpose: "snapshot", network: DEFAULT_NETWORK_POLICY, label: "profile test v1" };

describe.each(DB_KINDS)("Tandem's git remote for the sandbox on %s", (kind) => {
  let git: GitHttpServer;
  let rt: TestRuntime;
  let app: FastifyInstance;
  let base: string;
  let owner: ApiClient;
  let work: string;
  let cloneUrl: string;
  let repoId: string;
  const logLines: string[] = [];
  const responses: string[] = [];

  /** A sandbox-like environment: HOME with the helper and git's config installed, the token in a file. */
  const sandboxEnv = (token: string, repositories = [{ id: repoId, cloneUrl }]) => {
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
    for (const [cmd, ...args] of gitCredentialConfig(helper, base, repositories))
      execFileSync(cmd!, args, { env });
    return { dir, env, helper };
  };
  const clone = async (token: string) => {
    const { dir, env } = sandboxEnv(token);
    const dest = path.join(dir, "checkout");
    try {
      await run("git", ["clone", "-q", cloneUrl, dest], { env });
      return { ok: true as const, dest, env, stderr: "" };
    } catch (err) {
      return { ok: false as const, dest, env, stderr: String((err as { stderr?: string }).stderr) };
    }
  };
  const push = async (checkout: { dest: string; env: NodeJS.ProcessEnv }, refspec: string) => {
    try {
      const r = await run("git", ["-C", checkout.dest, "push", "origin", refspec], {
        env: checkout.env,
      });
      return { ok: true, stderr: r.stderr };
    } catch (err) {
      return { ok: false, stderr: String((err as { stderr?: string }).stderr) };
    }
  };
  const commit = (dest: string, env: NodeJS.ProcessEnv, file: string) => {
    writeFileSync(path.join(dest, file), `${file}\n`);
    execFileSync("git", ["-C", dest, "add", file], { env });
    execFileSync(
      "git",
      ["-C", dest, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", file],
      { env },
    );
  };
  const remoteRef = (ref: string) =>
    spawnSync("git", [
      "-C",
      path.join(git.root, "acme/app.git"),
      "rev-parse",
      "--verify",
      "--quiet",
      ref,
    ])
      .stdout.toString()
      .trim();
  const newSession = async (client: ApiClient) => {
    const created = await client.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "hi",
    });
    expect(created.status).toBe(201);
    return {
      id: created.body.id as string,
      token: await issueSandboxToken(rt.database.db, created.body.id),
    };
  };
  const record = async (call: Promise<{ status: number; body: unknown }>) => {
    const res = await call;
    responses.push(JSON.stringify(res.body));
    return res;
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "tandem-git-remote-"));
    git = await startGitHttpServer({ username: USERNAME, password: PASSWORD });
    git.createRepo("acme/app", FILES);
    cloneUrl = git.url("acme/app");
    rt = await startTestRuntime(kind, { ENCRYPTION_KEY: randomBytes(32).toString("base64") });
    const logger = pino(
      { level: "debug" },
      new Writable({
        write(c, _e, cb) {
          logLines.push(String(c));
          cb();
        },
      }),
    );
    app = await buildApp({ ...rt, logger: logger as unknown as Logger });
    base = await app.listen({ port: 0, host: "127.0.0.1" });
    owner = apiClient(app, await ownerToken(rt));
    const created = await record(
      owner.request("POST", "/api/repositories", {
        name: "acme/app",
        cloneUrl,
        credential: { username: USERNAME, password: PASSWORD },
      }),
    );
    expect(created.status).toBe(201);
    repoId = (created.body as { id: string }).id;
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
    await git?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the git server itself refuses a clone without the credential", async () => {
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: work,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0",
    };
    await expect(
      run("git", ["clone", "-q", cloneUrl, path.join(work, "anonymous")], { env }),
    ).rejects.toThrow(/Authentication failed|could not read Username/);
  });

  it("clones the real clone URL through Tandem's remote, which adds the stored credential; origin stays the real URL", async () => {
    const { token } = await newSession(owner);
    const before = git.requests.length;
    const result = await clone(token);
    expect(result.stderr).toBe("");
    expect(result.ok).toBe(true);
    for (const [file, content] of Object.entries(FILES))
      expect(readFileSync(path.join(result.dest, file), "utf8")).toBe(content);
    expect(
      execFileSync("git", ["-C", result.dest, "config", "remote.origin.url"], { env: result.env })
        .toString()
        .trim(),
    ).toBe(cloneUrl);
    expect(git.requests.slice(before).every((r) => r.authorized)).toBe(true);
    expect(git.requests.length).toBeGreaterThan(before);
  });

  it("never hands the stored password to the sandbox: the helper answers only Tandem's host, with the sandbox token", async () => {
    const { token } = await newSession(owner);
    const { helper, env } = sandboxEnv(token);
    const fill = (host: string) =>
      spawnSync("git", ["credential", "fill"], {
        env,
        input: `protocol=http\nhost=${host}\npath=acme/app.git\n\n`,
      });
    const own = fill(new URL(base).host);
    expect(own.stdout.toString()).toContain(`password=${token}`);
    // The real remote's host: git gets nothing from Tandem (and would prompt, which is off).
    const real = fill(new URL(cloneUrl).host);
    expect(real.status).not.toBe(0);
    expect(real.stdout.toString()).not.toContain(PASSWORD);
    expect(real.stdout.toString()).not.toContain(token);
    for (const action of ["store", "erase"]) {
      const r = spawnSync(helper, [action], {
        env,
        input: "protocol=http\nhost=x\nusername=a\npassword=b\n\n",
      });
      expect(r.status).toBe(0);
      expect(r.stdout.toString()).toBe("");
    }
    // The route that handed out credentials is gone.
    const asked = await fetch(`${base}/sandbox/git-credential`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "protocol=http\n",
    });
    expect(asked.status).toBe(404);
  });

  it("pushes the session branch and branches below it, and refuses main with a line git prints", async () => {
    const { id, token } = await newSession(owner);
    const checkout = await clone(token);
    expect(checkout.ok).toBe(true);
    commit(checkout.dest, checkout.env, "work.txt");
    const branch = sessionBranch(id);
    const mainBefore = remoteRef("refs/heads/main");

    const ok = await push(checkout, `HEAD:refs/heads/${branch}`);
    expect(ok.stderr).not.toMatch(/rejected|fatal|error/);
    expect(ok.ok).toBe(true);
    expect(remoteRef(`refs/heads/${branch}`)).toBe(
      execFileSync("git", ["-C", checkout.dest, "rev-parse", "HEAD"]).toString().trim(),
    );
    // A branch below the session branch (git keeps a ref and refs below it apart, so another session's).
    const second = await newSession(owner);
    const secondCheckout = await clone(second.token);
    expect(
      (await push(secondCheckout, `HEAD:refs/heads/${sessionBranch(second.id)}/part-2`)).ok,
    ).toBe(true);
    expect(remoteRef(`refs/heads/${sessionBranch(second.id)}/part-2`)).not.toBe("");
    // Not another session's branch.
    expect((await push(secondCheckout, `HEAD:refs/heads/${branch}-x`)).ok).toBe(false);

    const refused = await push(checkout, "HEAD:main");
    expect(refused.ok).toBe(false);
    expect(refused.stderr).toContain(`remote: Tandem: this session may only push to ${branch}`);
    expect(refused.stderr).toMatch(/\[remote rejected\] HEAD -> main/);
    expect(remoteRef("refs/heads/main")).toBe(mainBefore);
    // One bad ref refuses the whole push: the session branch in it does not move either.
    commit(checkout.dest, checkout.env, "more.txt");
    const mixed = await push(checkout, `HEAD:refs/heads/${branch}`).then(() =>
      push(checkout, "HEAD:refs/heads/other"),
    );
    expect(mixed.ok).toBe(false);
    expect(remoteRef("refs/heads/other")).toBe("");
    expect(logLines.join("")).toContain("git.push_refused");
  });

  it("answers 401 with a Basic challenge without a token, and for an ended session's", async () => {
    const anonymous = await fetch(
      `${base}/sandbox/git/${repoId}/info/refs?service=git-upload-pack`,
    );
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic/);
    const { id, token } = await newSession(owner);
    expect((await owner.request("POST", `/api/sessions/${id}/stop`)).status).toBe(200);
    const before = git.requests.length;
    const result = await clone(token);
    expect(result.ok).toBe(false);
    expect(git.requests.length).toBe(before);
    // A user's API token is not a sandbox token.
    const user = await fetch(`${base}/sandbox/git/${repoId}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${owner.token}` },
    });
    expect(user.status).toBe(401);
    // Only git's smart HTTP is forwarded.
    const other = await fetch(`${base}/sandbox/git/${repoId}/objects/info/packs`, {
      headers: { authorization: `Bearer ${(await newSession(owner)).token}` },
    });
    expect(other.status).toBe(404);
  });

  it("serves a build token (no session) its repositories for fetch only, until it is revoked or expires", async () => {
    git.createRepo("acme/lib", { "lib.txt": "lib\n" });
    const lib = await owner.request("POST", "/api/repositories", {
      name: "acme/lib",
      cloneUrl: git.url("acme/lib"),
      credential: { username: USERNAME, password: PASSWORD },
    });
    expect(lib.status).toBe(201);
    const deps = { db: rt.database.db, clock: rt.clock };
    const token = await issueBuildToken(deps, {
      orgId: rt.defaultOrgId,
      repositoryIds: [repoId],
      ...BUILD,
    });
    const checkout = await clone(token);
    expect(checkout.ok).toBe(true);
    const libRefs = await fetch(
      `${base}/sandbox/git/${lib.body.id}/info/refs?service=git-upload-pack`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(libRefs.status).toBe(404);
    commit(checkout.dest, checkout.env, "build.txt");
    const pushed = await push(checkout, "HEAD:refs/heads/from-build");
    expect(pushed.ok).toBe(false);
    expect(remoteRef("refs/heads/from-build")).toBe("");
    // Only the hash is stored.
    const rows = await rt.database.db.select().from(schema.sandboxTokens);
    expect(rows.map((r) => r.tokenHash)).toContain(hashToken(token));
    expect(JSON.stringify(rows)).not.toContain(token);

    await revokeBuildToken(rt.database.db, token);
    expect((await clone(token)).ok).toBe(false);
    const expired = await issueBuildToken(deps, {
      orgId: rt.defaultOrgId,
      repositoryIds: [repoId],
      ...BUILD,
      ttlMs: -1,
    });
    expect((await clone(expired)).ok).toBe(false);
    // Another org's build token gets nothing for this org's repository, even when it names its id.
    const mallory = await otherOrganization(rt);
    const foreign = await issueBuildToken(deps, {
      orgId: mallory.org.id,
      repositoryIds: [repoId],
      ...BUILD,
    });
    const refs = await fetch(`${base}/sandbox/git/${repoId}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${foreign}` },
    });
    expect(refs.status).toBe(404);
  });

  it("gives a session in another organization nothing for this repository", async () => {
    const mallory = apiClient(app, (await otherOrganization(rt)).token);
    expect(
      (await mallory.request("POST", "/api/repositories", { name: "acme/app", cloneUrl })).status,
    ).toBe(201);
    const { token } = await newSession(mallory);
    const refs = await fetch(`${base}/sandbox/git/${repoId}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(refs.status).toBe(404);
  });

  it("keeps the password out of every API response, the database and the log", async () => {
    const list = await record(owner.request("GET", "/api/repositories"));
    const repo = (list.body as { repositories: Array<Record<string, unknown>> }).repositories.find(
      (r) => r.name === "acme/app",
    );
    expect(repo).toMatchObject({ cloneUrl, hasCredential: true });
    expect(repo).not.toHaveProperty("credential");
    expect(responses.join("\n")).not.toContain(PASSWORD);

    const rows = await rt.database.db.select().from(schema.repositories);
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
    const stored = rows.find((r) => r.orgId === rt.defaultOrgId && r.name === "acme/app")!;
    expect(stored.credentialEncrypted).toMatch(/^v1:/);

    const log = logLines.join("");
    expect(log).toContain("git.forwarded");
    expect(log).not.toContain(PASSWORD);
  });

  it("validates the credential and refuses to store one without ENCRYPTION_KEY", async () => {
    for (const credential of [
      { username: USERNAME },
      { username: "a", password: "b\nhost=evil" },
      { username: "a", password: "b", token: "c" },
    ]) {
      const res = await owner.request("POST", "/api/repositories", {
        name: "acme/bad",
        cloneUrl: "https://x.test/bad.git",
        credential,
      });
      expect(res.status, JSON.stringify(credential)).toBe(400);
    }
    const ssh = await owner.request("POST", "/api/repositories", {
      name: "acme/ssh",
      cloneUrl: "git@x.test:acme/ssh.git",
      credential: { username: "a", password: "b" },
    });
    expect(ssh.status).toBe(400);
    expect(ssh.body.error.message).toMatch(/only used for http\(s\) remotes/);
    const keyless = await buildApp({ ...rt, config: { ...rt.config, ENCRYPTION_KEY: undefined } });
    try {
      const res = await apiClient(keyless, owner.token).request("POST", "/api/repositories", {
        name: "acme/keyless",
        cloneUrl: "https://x.test/keyless.git",
        credential: { username: "a", password: "b" },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/ENCRYPTION_KEY/);
      // Without a credential the key is not needed.
      const plain = await apiClient(keyless, owner.token).request("POST", "/api/repositories", {
        name: "acme/plain",
        cloneUrl: "https://x.test/plain.git",
      });
      expect(plain.status).toBe(201);
    } finally {
      await keyless.close();
    }
    const names = (await owner.request("GET", "/api/repositories")).body.repositories.map(
      (r: { name: string }) => r.name,
    );
    expect(names).not.toContain("acme/keyless");
    expect(names).not.toContain("acme/bad");
  });
});
