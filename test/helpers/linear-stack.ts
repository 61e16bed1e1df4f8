import { commandAdapter } from "@tandem/core";
import { FakeLinear } from "../fixtures/fake-linear.ts";
import { registerRepository, startGitServer, type RepoFiles, type TestGit } from "./e2e.ts";
import { LINEAR_WEBHOOK_SECRET } from "./linear.ts";
import { startStack, type Stack } from "./stack.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];

export interface LinearStack {
  fake: FakeLinear;
  git: TestGit;
  stack: Stack;
  close(): Promise<void>;
}

/**
 * A stack that answers Linear (its fake, LINEAR_API_KEY unless `env` says otherwise, the webhook
 * secret) with sessions in `local` sandboxes run by the scripted agent, and a git server holding
 * `repos`, of which `registered` are registered by the owner.
 */
export async function startLinearStack(
  o: {
    fake?: FakeLinear;
    env?: Record<string, string>;
    repos?: RepoFiles;
    registered?: string[];
    /** The stack's own settings only (the key stays out). */
    noApiKey?: boolean;
  } = {},
): Promise<LinearStack> {
  const fake = o.fake ?? (await new FakeLinear().listen());
  const git = await startGitServer(
    { username: "tandem-test", password: "test-git-password" },
    o.repos ?? { "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" } },
  );
  const stack = await startStack(
    "postgres",
    {
      LINEAR_API_URL: fake.url,
      ...(o.noApiKey ? {} : { LINEAR_API_KEY: "lin_api_test_key" }),
      LINEAR_WEBHOOK_SECRET,
      SANDBOX_PROVIDER: "local",
      ...o.env,
    },
    { agent: commandAdapter(AGENT) },
  );
  for (const name of o.registered ?? ["acme/app"]) await registerRepository(stack, git, name);
  return {
    fake,
    git,
    stack,
    async close() {
      await stack.close();
      await git.close();
      await fake.close();
    },
  };
}
