import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { remoteProblem, schema } from "@tandem/core";
import { apiClient, otherOrganization } from "../helpers/api.ts";
import { startGitServer, type TestGit } from "../helpers/e2e.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

// Repositories as an admin manages them: register, change, test, remove; and what is refused.
describe("repository management", () => {
  let stack: Stack;
  let git: TestGit;

  beforeAll(async () => {
    git = await startGitServer(
      { username: "tandem-test", password: "test-git-password" },
      { "acme/app": { "README.md": "# app\n" } },
    );
    stack = await startStack("postgres", { SANDBOX_PROVIDER: "docker" }, { none: true });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await git?.close();
  });

  const register = (name: string, cloneUrl: string, extra: Record<string, unknown> = {}) =>
    stack.owner.request("POST", "/api/repositories", { name, cloneUrl, ...extra });

  it("refuses a file:// remote with the docker provider, saying what to use instead", async () => {
    const res = await register("acme/local", "file:///srv/git/local.git");
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain("Docker sandboxes cannot see");
    expect(res.body.error.message).toContain("git daemon");
    expect(res.body.error.message).toContain("SANDBOX_PROVIDER=local");
    // The local provider clones on this machine, where the path is.
    expect(remoteProblem("file:///srv/git/local.git", "local")).toBeNull();
  });

  it("tests a remote with its credential: the remote's head when it works, git's whole error when not", async () => {
    const created = await register("acme/app", git.url("acme/app"), { credential: git.credential });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const ok = await stack.owner.request("POST", `/api/repositories/${id}/test`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, head: "main", branchFound: true, error: null });

    // A wrong password: git's own words, all of them.
    const bad = await stack.owner.request("PATCH", `/api/repositories/${id}`, {
      credential: { username: "tandem-test", password: "not-the-password" },
    });
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ hasCredential: true });
    const refused = await stack.owner.request("POST", `/api/repositories/${id}/test`);
    expect(refused.body.ok).toBe(false);
    expect(refused.body.error).toMatch(
      /fatal: Authentication failed for 'http:\/\/127\.0\.0\.1:\d+\/.*acme\/app/,
    );
    expect(refused.body.error).not.toContain("not-the-password");

    // The right credential again, and a branch the remote does not have.
    await stack.owner.request("PATCH", `/api/repositories/${id}`, {
      credential: git.credential,
      defaultBranch: "release",
    });
    const branch = await stack.owner.request("POST", `/api/repositories/${id}/test`);
    expect(branch.body).toMatchObject({
      ok: false,
      head: "main",
      branchFound: false,
      error: "the remote answered, but has no branch release (its default branch is main)",
    });
    const listed = await stack.owner.request("GET", "/api/repositories");
    expect(listed.body.repositories.find((r: { id: string }) => r.id === id)).toMatchObject({
      name: "acme/app",
      defaultBranch: "release",
      hasCredential: true,
    });
    await stack.owner.request("PATCH", `/api/repositories/${id}`, { defaultBranch: "main" });
  });

  it("changes the remote; refuses a name change, a file:// remote and a credential on ssh", async () => {
    const created = await register("acme/tools", "https://git.example.test/acme/tools.git");
    const id = created.body.id;
    const moved = await stack.owner.request("PATCH", `/api/repositories/${id}`, {
      cloneUrl: "ssh://git@git.example.test/acme/tools.git",
    });
    expect(moved.status).toBe(200);
    expect(moved.body.cloneUrl).toBe("ssh://git@git.example.test/acme/tools.git");
    expect(
      (await stack.owner.request("PATCH", `/api/repositories/${id}`, { name: "acme/other" }))
        .status,
    ).toBe(400);
    const local = await stack.owner.request("PATCH", `/api/repositories/${id}`, {
      cloneUrl: "file:///srv/tools.git",
    });
    expect(local.status).toBe(400);
    expect(local.body.error.message).toContain("file://");
    const cred = await stack.owner.request("PATCH", `/api/repositories/${id}`, {
      credential: { username: "u", password: "p" },
    });
    expect(cred.status).toBe(400);
    expect(cred.body.error.message).toContain("only used for http(s) remotes");
  });

  it("removes a repository no session uses; refuses one a session works in, saying how many", async () => {
    const spare = await register("acme/spare", "https://git.example.test/acme/spare.git");
    expect((await stack.owner.request("DELETE", `/api/repositories/${spare.body.id}`)).status).toBe(
      204,
    );
    const again = await stack.owner.request("DELETE", `/api/repositories/${spare.body.id}`);
    expect(again.status).toBe(404);

    const used = await register("acme/used", "https://git.example.test/acme/used.git");
    await stack.rt.database.db.insert(schema.sessions).values({
      orgId: stack.rt.defaultOrgId,
      repositoryId: used.body.id,
      prompt: "an earlier session",
      status: "stopped",
    });
    const refused = await stack.owner.request("DELETE", `/api/repositories/${used.body.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe(
      "acme/used is the repository of 1 session: delete it first, or keep the repository (its remote and credential can be changed)",
    );
  });

  it("is another org's business: 404 to change, test or remove it", async () => {
    const mine = await register("acme/mine", "https://git.example.test/acme/mine.git");
    const mallory = apiClient(stack.app, (await otherOrganization(stack.rt)).token);
    for (const [method, suffix] of [
      ["PATCH", ""],
      ["DELETE", ""],
      ["POST", "/test"],
    ] as const) {
      const res = await mallory.request(method, `/api/repositories/${mine.body.id}${suffix}`, {});
      expect(res.status, `${method} ${suffix}`).toBe(404);
    }
  });
});
