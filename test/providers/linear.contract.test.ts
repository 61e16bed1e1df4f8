import { randomUUID } from "node:crypto";
import { commandAdapter } from "@tandem/core";
import { FakeLinear } from "../fixtures/fake-linear.ts";
import { startGitHttpServer } from "../fixtures/git-http-server.ts";
import {
  agentSessionCreated,
  agentSessionPrompted,
  AGENT_USER_ID,
  commentCreated,
  LINEAR_WEBHOOK_SECRET,
  postLinear,
} from "../helpers/linear.ts";
import { startStack } from "../helpers/stack.ts";
import { providerContract, type ContractThread } from "./contract.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];
const GIT = { username: "tandem-test", password: "test-git-password" };

providerContract("Linear", async () => {
  const fake = await new FakeLinear().listen();
  const git = await startGitHttpServer(GIT);
  git.createRepo("acme/app", { "README.md": "# app\n", "hello.txt": "hello\n" });
  const stack = await startStack(
    "postgres",
    {
      LINEAR_API_URL: fake.url,
      LINEAR_API_KEY: "lin_api_test_key",
      LINEAR_WEBHOOK_SECRET,
      SANDBOX_PROVIDER: "local",
    },
    { agent: commandAdapter(AGENT) },
  );
  const repo = await stack.owner.request("POST", "/api/repositories", {
    name: "acme/app",
    cloneUrl: git.url("acme/app"),
    defaultBranch: "main",
    credential: GIT,
  });
  if (repo.status !== 201) throw new Error(`repository: ${repo.status}`);

  const thread = (): ContractThread => {
    // An issue and the agent session Linear opened on it when the agent was mentioned.
    const issue = fake.addIssue({ title: "The greeting is too short" });
    const agentSessionId = fake.addSession({ issueId: issue.id }).id;
    const about = (c: { variables: Record<string, any> }) =>
      JSON.stringify(c.variables).includes(agentSessionId) ||
      JSON.stringify(c.variables).includes(issue.id);
    const activities = () => fake.activitiesOf(agentSessionId);
    const text = (a: { content: Record<string, any> }) =>
      [a.content.body, a.content.action, a.content.parameter].filter(Boolean).join(" ");
    const links = () =>
      fake.callsTo("agentSessionUpdate").filter((c) => c.variables.input?.externalUrls && about(c));
    const prompt = async (body: string, signal?: "stop") =>
      (await postLinear(stack.base, agentSessionPrompted({ agentSessionId, body, signal }))).status;
    return {
      key: agentSessionId,
      async start(words, delivery = randomUUID()) {
        const payload = agentSessionCreated({
          agentSessionId,
          issue,
          comment: { body: `@tandem ${words}` },
        });
        return {
          status: (await postLinear(stack.base, payload, { deliveryId: delivery })).status,
          delivery,
        };
      },
      followUp: (words) => prompt(words),
      stop: () => prompt("Stop", "stop"),
      // The agent's own comment on the issue, naming itself.
      fromBot: async (words) =>
        (
          await postLinear(
            stack.base,
            commentCreated({ issueId: issue.id, body: `@tandem ${words}`, userId: AGENT_USER_ID }),
          )
        ).status,
      badlySigned: async (words) =>
        (
          await postLinear(
            stack.base,
            agentSessionCreated({ agentSessionId, issue, comment: { body: `@tandem ${words}` } }),
            { secret: "not-the-webhook-secret" },
          )
        ).status,
      calls: () => fake.calls.filter(about),
      // The agent session's "status": its View session link, set once, and the activities after it.
      statusPosts: () => links().map((c) => JSON.stringify(c.variables.input.externalUrls)),
      statusEdits: () => activities().map(text),
      failureReports: (reason) =>
        activities()
          .filter((a) => a.content.type === "error" && String(a.content.body).includes(reason))
          .map(text),
    };
  };

  return {
    provider: "linear",
    stack,
    thread,
    async close() {
      await stack.close();
      await git.close();
      await fake.close();
    },
  };
});
