import { commandAdapter } from "@tandem/core";
import { FakeJira } from "../fixtures/fake-jira.ts";
import { registerRepository, startGitServer, type RepoFiles, type TestGit } from "./e2e.ts";
import { JIRA_API_TOKEN, JIRA_EMAIL, JIRA_WEBHOOK_SECRET } from "./jira.ts";
import { startStack, type Stack } from "./stack.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];

export interface JiraStack {
  fake: FakeJira;
  git: TestGit;
  stack: Stack;
  close(): Promise<void>;
}

/**
 * A stack connected to a fake Jira site (the agent's credentials, the webhook secret), with
 * sessions in `local` sandboxes run by the scripted agent, and a git server holding `repos`, of
 * which `registered` are registered by the owner.
 */
export async function startJiraStack(
  o: { env?: Record<string, string>; repos?: RepoFiles; registered?: string[] } = {},
): Promise<JiraStack> {
  const fake = await new FakeJira({ email: JIRA_EMAIL, apiToken: JIRA_API_TOKEN }).listen();
  const git = await startGitServer(
    { username: "tandem-test", password: "test-git-password" },
    o.repos ?? { "acme/app": { "README.md": "# app\n", "hello.txt": "hello\n" } },
  );
  const stack = await startStack(
    "postgres",
    {
      JIRA_BASE_URL: fake.url,
      JIRA_EMAIL,
      JIRA_API_TOKEN,
      JIRA_WEBHOOK_SECRET,
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
