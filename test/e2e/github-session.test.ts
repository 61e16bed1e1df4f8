import { execFileSync } from "node:child_process";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, sessionUrl } from "@tandem/core";
import { FakeGitHub } from "../fixtures/fake-github.ts";
import type { GitHttpServer } from "../fixtures/git-http-server.ts";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import { dockerModelEnv, sessionOfThread } from "../helpers/e2e.ts";
import {
  APP_SLUG,
  appKeys,
  githubAppEnv,
  installGitHubApp,
  issueComment,
  postGitHub,
} from "../helpers/github.ts";
import { startFakeGitHubApp, startInstallationGitServer } from "../helpers/github-app.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();
const INSTALLATION = 91;
const REPO = "acme/app";

describe("GitHub end to end: a signed webhook runs the real agent in a Docker sandbox and opens a pull request", () => {
  let fake: FakeGitHub;
  let git: GitHttpServer;
  let model: ModelServer;
  let stack: Stack;
  /** The installation tokens the sandbox's git authenticated with. */
  const gitTokens = new Set<string>();

  beforeAll(async () => {
    if (skip) return;
    const keys = appKeys();
    fake = await startFakeGitHubApp(keys);
    git = await startInstallationGitServer(fake, (token) => gitTokens.add(token));
    git.createRepo(REPO, { "README.md": "# app\n", "hello.txt": "hello\n" });
    fake.installations.set(INSTALLATION, [
      { name: "app", full_name: REPO, clone_url: git.url(REPO), default_branch: "main" },
    ]);
    fake.setPermission(REPO, "alice", "admin");
    model = await new ModelServer([
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: "I updated hello.txt to greet the world." },
    ]).listen();
    stack = await startStack("postgres", {
      ...dockerModelEnv(model),
      ...githubAppEnv(fake.url, keys.privateKey),
    });
    await installGitHubApp(stack, { installationId: INSTALLATION, account: "acme", repo: REPO });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await model?.close();
    await git?.close();
    await fake?.close();
  });

  it.skipIf(skip)(
    "issue comment → sandbox → the agent edits hello.txt → pushed with an installation token → PR → final comment",
    async () => {
      const payload = issueComment({
        repo: REPO,
        installationId: INSTALLATION,
        number: 12,
        body: `@${APP_SLUG} say hello to the world in hello.txt`,
      });
      expect((await postGitHub(stack.base, "issue_comment", payload)).status).toBe(202);

      await fake.waitFor(
        "the pull request",
        () => fake.pulls.some((p) => p.head.startsWith("tandem/")),
        150_000,
      );
      const pull = fake.pulls.find((p) => p.head.startsWith("tandem/"))!;
      const bound = await sessionOfThread(stack, `${REPO}#12`, "github");
      const url = sessionUrl("http://tandem.test", bound!.id);
      expect(pull.head).toBe(`tandem/${bound!.id.slice(0, 8)}`);
      expect(pull.body).toContain("Resolves #12");
      expect(pull.body).toContain(url);
      const bare = path.join(git.root, `${REPO}.git`);
      expect(
        execFileSync("git", ["--git-dir", bare, "show", `${pull.head}:hello.txt`], {
          encoding: "utf8",
        }),
      ).toBe("hello, world\n");

      await fake.waitFor(
        "the final edit",
        () => fake.commentsOn(REPO, 12).some((c) => c.body.includes(pull.html_url)),
        30_000,
      );
      const comments = fake.commentsOn(REPO, 12);
      expect(comments).toHaveLength(1);
      expect(comments[0]!.body).toContain("I updated hello.txt to greet the world.");
      expect(comments[0]!.body).toContain("- `hello.txt` +1 −1");
      expect(comments[0]!.body).toContain(`[View session](${url})`);
      expect(
        fake.reactions.some(
          (r) => r.target === `issues/comments/${payload.comment.id}` && r.content === "eyes",
        ),
      ).toBe(true);
      // Clone and push went through the helper with narrowed installation tokens; the App key never left Tandem.
      expect(git.requests.some((r) => r.authorized && r.url.includes("git-receive-pack"))).toBe(
        true,
      );
      expect(gitTokens.size).toBeGreaterThan(0);
      for (const token of gitTokens) {
        expect(fake.tokens.find((t) => t.token === token)).toMatchObject({
          repositories: ["app"],
          permissions: { contents: "write", pull_requests: "write" },
        });
        expect(Object.keys(fake.tokens.find((t) => t.token === token)!.permissions)).toHaveLength(
          2,
        );
      }
      const session = await stack.rt.database.db.query.sessions.findFirst({
        where: eq(schema.sessions.id, bound!.id),
      });
      expect(session!.pullRequestUrl).toBe(pull.html_url);
    },
    200_000,
  );
});
