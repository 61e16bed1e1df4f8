import {
  AGENT_ACCOUNT_ID,
  commentCreated,
  JIRA_WEBHOOK_SECRET,
  postJira,
  wikiMention,
} from "../helpers/jira.ts";
import { startJiraStack } from "../helpers/jira-stack.ts";
import { providerContract, type ContractThread } from "./contract.ts";

providerContract("Jira", async () => {
  const jira = await startJiraStack();
  const { fake, stack } = jira;
  const site = fake.url;
  const host = new URL(site).host;

  const thread = (): ContractThread => {
    const issue = fake.addIssue({ summary: "The greeting is too short" });
    const comment = (words: string, author?: string) =>
      commentCreated({ site, issue, body: `${wikiMention(AGENT_ACCOUNT_ID)} ${words}`, author });
    const post = async (words: string, opts: { identifier?: string; secret?: string } = {}) =>
      postJira(stack.base, comment(words), opts);
    // The tracking comment is the one carrying the View session link.
    const tracking = () =>
      fake.commentsOn(issue.key).filter((c) => fake.textOf(c.body).includes("View session"));
    return {
      key: `${host}/${issue.key}`,
      async start(words, delivery) {
        const res = await post(words, delivery ? { identifier: delivery } : {});
        return { status: res.status, delivery: res.identifier };
      },
      followUp: async (words) => (await post(words)).status,
      stop: async () => (await post("stop")).status,
      fromBot: async (words) =>
        (await postJira(stack.base, comment(words, AGENT_ACCOUNT_ID))).status,
      badlySigned: async (words) =>
        (await post(words, { secret: `${JIRA_WEBHOOK_SECRET}-not` })).status,
      calls: () =>
        fake.calls.filter(
          (c) => c.path.includes(`/issue/${issue.key}`) || c.path.includes(`/issue/${issue.id}`),
        ),
      // The text with the links' targets: the View session link is a link mark on "View session".
      statusPosts: () => tracking().map((c) => JSON.stringify(c.body)),
      statusEdits: () => tracking().flatMap((c) => c.edits.map((e) => fake.textOf(e))),
      // The failure shows in the tracking comment, edited in place: one comment carries it.
      failureReports: (reason) =>
        fake
          .commentsOn(issue.key)
          .filter((c) => fake.textOf(c.current).includes(reason))
          .map((c) => fake.textOf(c.current)),
    };
  };

  return { provider: "jira", stack, thread, close: () => jira.close() };
});
