import { randomUUID } from "node:crypto";
import {
  agentSessionCreated,
  agentSessionPrompted,
  AGENT_USER_ID,
  commentCreated,
  postLinear,
} from "../helpers/linear.ts";
import { startLinearStack } from "../helpers/linear-stack.ts";
import { providerContract, type ContractThread } from "./contract.ts";

providerContract("Linear", async () => {
  const linear = await startLinearStack();
  const { fake, stack } = linear;

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

  return { provider: "linear", stack, thread, close: () => linear.close() };
});
