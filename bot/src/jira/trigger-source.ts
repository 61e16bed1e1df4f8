import { z } from "zod";
import { adfMentions, adfToText } from "./adf.ts";

// What a Jira admin webhook's body asks of the agent. The bodies follow REST v2 (a comment's body
// and an issue's description are wiki markup) unless the site sends ADF, as Connect apps get it.

const account = z
  .object({
    accountId: z.string(),
    accountType: z.string().optional(),
    displayName: z.string().optional(),
  })
  .passthrough();

const issue = z
  .object({
    id: z.string(),
    key: z.string(),
    fields: z
      .object({
        summary: z.string().nullable().optional(),
        description: z.unknown().optional(),
        labels: z.array(z.string()).nullable().optional(),
        project: z.object({ key: z.string() }).passthrough().nullable().optional(),
      })
      .passthrough()
      .default({}),
  })
  .passthrough();

const commentEvent = z.object({
  webhookEvent: z.literal("comment_created"),
  timestamp: z.number().optional(),
  comment: z
    .object({ id: z.string(), author: account.optional(), body: z.unknown() })
    .passthrough(),
  issue,
});

const changelogItem = z
  .object({
    field: z.string().optional(),
    fieldId: z.string().optional(),
    from: z.string().nullable().optional(),
    fromString: z.string().nullable().optional(),
    to: z.string().nullable().optional(),
    toString: z.string().nullable().optional(),
  })
  .passthrough();

const issueEvent = z.object({
  webhookEvent: z.enum(["jira:issue_updated", "jira:issue_created"]),
  timestamp: z.number().optional(),
  user: account.optional(),
  issue,
  changelog: z
    .object({ items: z.array(changelogItem).default([]) })
    .passthrough()
    .nullable()
    .optional(),
});

/** The issue as a request needs it. */
export interface JiraIssue {
  id: string;
  key: string;
  summary: string;
  description: string;
  projectKey: string | null;
}

interface Person {
  accountId: string;
  name: string;
}

export type JiraTrigger =
  | { type: "ignore"; reason: string }
  /** A person's comment: it mentions the agent (a request, "stop"), or answers its question. */
  | {
      type: "comment";
      issue: JiraIssue;
      author: Person;
      commentId: string;
      text: string;
      mentionsAgent: boolean;
    }
  /** The issue was handed to the agent: assigned to it, or given the trigger label. */
  | { type: "handed"; how: "assigned" | "labelled"; issue: JiraIssue; by: Person | null };

const WIKI_MENTION = /\[~accountid:([^\]\s]+)\]/gi;

/** The text of a body in wiki markup or ADF, each mention as @name (the agent's left out). */
function readBody(body: unknown, agentId: string): { text: string; mentions: string[] } {
  if (typeof body === "string") {
    const mentions = [...body.matchAll(WIKI_MENTION)].map((m) => m[1]!);
    const text = body.replace(WIKI_MENTION, (_m, id: string) => (id === agentId ? "" : "@someone"));
    return { text: text.replace(/[ \t]{2,}/g, " ").trim(), mentions };
  }
  const mentions = adfMentions(body);
  return { text: adfToText(stripMention(body, agentId)).trim(), mentions };
}

/** An ADF doc without its mentions of `accountId` (the request's text reads without them). */
function stripMention(node: unknown, accountId: string): unknown {
  if (Array.isArray(node)) return node.map((n) => stripMention(n, accountId));
  if (!node || typeof node !== "object") return node;
  const n = node as { type?: unknown; attrs?: { id?: unknown }; content?: unknown[] };
  if (!Array.isArray(n.content)) return n;
  return {
    ...n,
    content: n.content
      .filter(
        (c) => !((c as typeof n)?.type === "mention" && (c as typeof n).attrs?.id === accountId),
      )
      .map((c) => stripMention(c, accountId)),
  };
}

const issueOf = (i: z.infer<typeof issue>, agentId: string): JiraIssue => ({
  id: i.id,
  key: i.key,
  summary: i.fields.summary ?? "",
  description: i.fields.description ? readBody(i.fields.description, agentId).text : "",
  projectKey: i.fields.project?.key ?? null,
});

const person = (a: z.infer<typeof account> | undefined): Person | null =>
  a ? { accountId: a.accountId, name: a.displayName ?? "someone" } : null;

/** A labels item's space-separated list (`toString` absent reads Object's method: check the type). */
const labelsIn = (s: unknown) => (typeof s === "string" ? s.split(/\s+/).filter(Boolean) : []);

/** What the webhook body asks: a comment to read, an issue handed to the agent, or nothing. */
export function toTrigger(
  payload: unknown,
  agent: { accountId: string; label: string },
): JiraTrigger {
  const kind = (payload as { webhookEvent?: unknown })?.webhookEvent;
  if (kind === "comment_created") {
    const parsed = commentEvent.safeParse(payload);
    if (!parsed.success) return { type: "ignore", reason: "a comment event Tandem cannot read" };
    const { comment } = parsed.data;
    const author = comment.author;
    if (!author) return { type: "ignore", reason: "a comment without an author" };
    if (author.accountId === agent.accountId)
      return { type: "ignore", reason: "the agent's own comment" };
    // Apps (automation rules, integrations) and service-desk customers do not give the agent work.
    if (author.accountType === "app") return { type: "ignore", reason: "an app's comment" };
    if (author.accountType === "customer")
      return { type: "ignore", reason: "a service-desk customer's comment" };
    const { text, mentions } = readBody(comment.body, agent.accountId);
    return {
      type: "comment",
      issue: issueOf(parsed.data.issue, agent.accountId),
      author: person(author)!,
      commentId: comment.id,
      text,
      mentionsAgent: mentions.includes(agent.accountId),
    };
  }
  if (kind === "jira:issue_updated" || kind === "jira:issue_created") {
    const parsed = issueEvent.safeParse(payload);
    if (!parsed.success) return { type: "ignore", reason: "an issue event Tandem cannot read" };
    const { user, changelog } = parsed.data;
    if (user?.accountId === agent.accountId)
      return { type: "ignore", reason: "the agent's own change" };
    const items = changelog?.items ?? [];
    const target = issueOf(parsed.data.issue, agent.accountId);
    // Only the change itself says the agent was just assigned: `fields.assignee` is the state after
    // every edit, so an edit of an issue the agent already has would start it again.
    const assigned = items.some(
      (i) => (i.fieldId ?? i.field) === "assignee" && i.to === agent.accountId && i.from !== i.to,
    );
    if (assigned) return { type: "handed", how: "assigned", issue: target, by: person(user) };
    const label = agent.label.toLowerCase();
    const labelItem = items.find((i) => (i.fieldId ?? i.field) === "labels");
    const added = labelItem
      ? labelsIn(labelItem.toString).filter((l) => !labelsIn(labelItem.fromString).includes(l))
      : kind === "jira:issue_created"
        ? (parsed.data.issue.fields.labels ?? [])
        : [];
    if (added.some((l) => l.toLowerCase() === label))
      return { type: "handed", how: "labelled", issue: target, by: person(user) };
    return { type: "ignore", reason: "an issue change that does not hand it to the agent" };
  }
  return { type: "ignore", reason: `the event ${String(kind ?? "(none)")}` };
}

/** "stop" (or "cancel"), mentioning the agent, alone. */
export const asksToStop = (text: string) => /^\W*(stop|cancel)\W*$/i.test(text.trim());

/** The prompt for a new session: the issue, and what the person asked. */
export function buildPrompt(
  issue: JiraIssue,
  issueUrl: string,
  ask: { text: string; by: string } | null,
): string {
  // The first line titles the pull request; Jira links a pull request whose title names the key.
  const lines = [`${issue.key}: ${issue.summary}`, `Jira issue: ${issueUrl}`];
  if (issue.description.trim()) lines.push("", issue.description.trim());
  if (ask?.text.trim()) lines.push("", `${ask.by} asked: ${ask.text.trim()}`);
  return lines.join("\n");
}
