import { spawnSync } from "node:child_process";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, schema } from "@tandem/core";
import { buildTestApp, otherOrganization, apiClient } from "../helpers/api.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "../helpers/docker.ts";
import { registerRepository, startGitServer, type TestGit } from "../helpers/e2e.ts";
import { startStack, until, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();

/** The org's setup-test containers, running or not. */
const testContainers = (orgId: string) =>
  spawnSync(
    "docker",
    ["ps", "-aq", "--filter", `label=tandem.org=${orgId}`, "--filter", "label=tandem.setup_test"],
    { encoding: "utf8" },
  )
    .stdout.trim()
    .split("\n")
    .filter(Boolean);

describe.skipIf(skip)("testing a draft's setup script in a throwaway docker sandbox", () => {
  let s: Stack;
  let git: TestGit;

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "test-git-password-setup" },
      { "acme/app": { "README.md": "# app from git\n" } },
    );
    s = await startStack("postgres", { SANDBOX_PROVIDER: "docker", SANDBOX_IMAGE }, { none: true });
    await s.owner.request("POST", "/api/profiles", { name: "node" });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await git?.close();
  });

  /** A real HTTP request on the stack's port, read as the browser does: chunk by chunk. */
  const post = (name: string, signal?: AbortSignal) =>
    fetch(`${s.base}/api/profiles/${name}/draft/test`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.owner.token}` },
      signal,
    });
  async function readChunks(res: Response, onChunk: (text: string) => void = () => {}) {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const chunks: Array<{ atMs: number; text: string }> = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return chunks;
      chunks.push({ atMs: Date.now(), text: value });
      onChunk(value);
    }
  }

  it("answers 400 for a draft without a setup script, 404 for another org's profile and 503 without sandboxes", async () => {
    const empty = await s.owner.request("POST", "/api/profiles/node/draft/test");
    expect(empty.status).toBe(400);
    expect(empty.body.error.message).toBe("the draft has no setup script");
    await s.owner.request("PUT", "/api/profiles/node/draft", { spec: { setupScript: "echo hi" } });
    const mallory = apiClient(s.app, (await otherOrganization(s.rt)).token);
    const other = await mallory.request("POST", "/api/profiles/node/draft/test");
    expect(other.status).toBe(404);
    expect(other.body.error.message).toBe("sandbox profile node not found");
    const without = await buildTestApp(s.rt);
    try {
      const res = await apiClient(without, s.owner.token).request(
        "POST",
        "/api/profiles/node/draft/test",
      );
      expect(res.status).toBe(503);
    } finally {
      await without.close();
    }
  });

  it("refuses members", async () => {
    const added = await s.owner.request("POST", `/api/orgs/${s.rt.defaultOrgId}/members`, {
      email: "member@example.test",
      role: "member",
    });
    const { token } = await issueToken(s.rt.database.db, s.rt.clock, {
      userId: added.body.userId,
      kind: "api",
    });
    const res = await apiClient(s.app, token).request("POST", "/api/profiles/node/draft/test");
    expect(res.status).toBe(403);
  });

  it("streams the script's output while it runs, in the workspace with the draft's env, then the exit code, and removes the sandbox", async () => {
    const setupScript =
      'echo first-line; echo to-stderr >&2; sleep 2; echo "env=$FROM_PROFILE pwd=$(pwd)"; exit 3';
    await s.owner.request("PUT", "/api/profiles/node/draft", {
      spec: { setupScript, env: { FROM_PROFILE: "yes" }, limits: { pids: 256 } },
    });
    const started = Date.now();
    const res = await post("node");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    let containersMidRun: string[] = [];
    let seen = "";
    const chunks = await readChunks(res, (text) => {
      seen += text;
      if (seen.includes("first-line") && !containersMidRun.length)
        containersMidRun = testContainers(s.rt.defaultOrgId);
    });
    const text = chunks.map((c) => c.text).join("");
    expect(text).toMatch(/^\[starting a sandbox from tandem\/sandbox:latest\]\n/);
    expect(text).toContain("first-line\n");
    expect(text).toContain("to-stderr\n");
    expect(text).toContain("env=yes pwd=/workspace\n");
    expect(text.endsWith("\n[setup script exited with 3]\n")).toBe(true);
    // The first line arrived while the script still slept: about 2 s before the last one.
    const first = chunks.find((c) => c.text.includes("first-line"))!;
    const last = chunks.find((c) => c.text.includes("env=yes"))!;
    expect(last.atMs - first.atMs).toBeGreaterThan(1500);
    expect(first.atMs - started).toBeLessThan(last.atMs - started);
    expect(containersMidRun).toHaveLength(1);
    expect(testContainers(s.rt.defaultOrgId)).toEqual([]);
    const rows = await s.rt.database.db
      .select()
      .from(schema.sandboxes)
      .where(eq(schema.sandboxes.orgId, s.rt.defaultOrgId));
    expect(rows.map((r) => r.status)).toEqual(["removed"]);
  }, 60_000);

  it("clones the draft's repositories before the script, with a build token revoked at the end", async () => {
    await registerRepository(s, git, "acme/app");
    const setupScript =
      'cat acme/app/README.md && git -C acme/app log -1 --format=%s && cp "$TANDEM_TOKEN_FILE" /tmp/kept && echo kept=$(cat /tmp/kept)';
    expect(
      (
        await s.owner.request("PUT", "/api/profiles/node/draft", {
          spec: { repositories: [{ name: "acme/app" }], setupScript },
        })
      ).status,
    ).toBe(200);
    const text = (await readChunks(await post("node"))).map((c) => c.text).join("");
    expect(text).toMatch(/cloned acme\/app \(main at [0-9a-f]+\) into \/workspace\/acme\/app\n/);
    expect(text).toContain("# app from git\ninitial commit\n");
    expect(text.endsWith("\n[setup script exited with 0]\n")).toBe(true);
    expect(text).not.toContain("test-git-password-setup");
    const kept = text.match(/kept=(tdm_\S+)/)![1]!;
    expect(await s.rt.database.db.select().from(schema.sandboxTokens)).toEqual([]);
    const repoId = (await s.owner.request("GET", "/api/repositories")).body.repositories.find(
      (r: { name: string }) => r.name === "acme/app",
    ).id;
    const asked = await fetch(`${s.base}/sandbox/git/${repoId}/info/refs?service=git-upload-pack`, {
      headers: { authorization: `Bearer ${kept}` },
    });
    expect(asked.status).toBe(401);
    expect(testContainers(s.rt.defaultOrgId)).toEqual([]);
  }, 60_000);

  it("removes the sandbox when the client disconnects mid-run", async () => {
    await s.owner.request("PUT", "/api/profiles/node/draft", {
      spec: { setupScript: "echo waiting-forever; sleep 300" },
    });
    const abort = new AbortController();
    const res = await post("node", abort.signal);
    let seen = "";
    const reading = readChunks(res, (text) => {
      seen += text;
    }).catch(() => "aborted");
    await until("the script's first line", async () => seen.includes("waiting-forever"), 30_000);
    expect(testContainers(s.rt.defaultOrgId)).toHaveLength(1);
    abort.abort();
    expect(await reading).toBe("aborted");
    await until(
      "the sandbox to be removed",
      async () => testContainers(s.rt.defaultOrgId).length === 0,
      20_000,
    );
    await until(
      "the sandbox row to say removed",
      async () => {
        const rows = await s.rt.database.db
          .select()
          .from(schema.sandboxes)
          .where(eq(schema.sandboxes.orgId, s.rt.defaultOrgId));
        return rows.every((r) => r.status === "removed" && r.removedAt) && rows.length === 3;
      },
      10_000,
    );
  }, 60_000);
});
