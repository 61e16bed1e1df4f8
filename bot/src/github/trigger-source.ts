import { z } from "zod";

/** What the inbox stores for one delivery: GitHub's event name beside its payload. */
export interface StoredDelivery {
  event: string;
  payload: unknown;
}

const user = z.object({ login: z.string(), type: z.string().default("User") });
const repository = z.object({ full_name: z.string() });
const installation = z.object({ id: z.number() });
const issue = z.object({
  number: z.number(),
  title: z.string().default(""),
  body: z.string().nullable().default(""),
  html_url: z.string().default(""),
  pull_request: z.object({}).passthrough().optional(),
});
const comment = z.object({
  id: z.number(),
  body: z.string().nullable().default(""),
  user,
  html_url: z.string().default(""),
});

const issueComment = z.object({
  action: z.literal("created"),
  issue,
  comment,
  repository,
  installation,
  sender: user,
});
const reviewComment = z.object({
  action: z.literal("created"),
  repository,
  installation,
  sender: user,
  comment: comment.extend({
    path: z.string(),
    diff_hunk: z.string().default(""),
    line: z.number().nullable().optional(),
    original_line: z.number().nullable().optional(),
  }),
  pull_request: z.object({
    number: z.number(),
    title: z.string().default(""),
    body: z.string().nullable().default(""),
    head: z.object({ ref: z.string(), repo: repository.nullable().optional() }),
  }),
});
const issueAssigned = z.object({
  action: z.literal("assigned"),
  issue,
  assignee: user.nullable(),
  repository,
  installation,
  sender: user,
});
const installationEvent = z.object({
  action: z.string(),
  installation: installation.extend({
    account: z.object({ login: z.string() }).nullable().optional(),
  }),
});

/** Where the request was made: the issue or PR, and what to react 👀 on. */
export interface GitHubRequest {
  installationId: number;
  repo: string;
  number: number;
  isPullRequest: boolean;
  /** The PR's head branch, when the payload says (review comments); otherwise asked of the API. */
  headRef?: string;
  /** Whether the head branch lives in this repository (a fork's cannot be pushed to). */
  headInRepo?: boolean;
  sender: string;
  /** What to react 👀 on. */
  reactTo:
    { kind: "issue_comment" | "review_comment"; id: number } | { kind: "issue"; number: number };
  /** The person's words with the mention removed. */
  text: string;
  /** Issue/PR title and body, and for a review comment the file, line and diff hunk. */
  context: string;
}

export type GitHubTrigger =
  | ({ type: "request" } & GitHubRequest)
  | { type: "installation"; action: string; installationId: number; account?: string }
  | { type: "ignore"; reason: string };

const ignore = (reason: string): GitHubTrigger => ({ type: "ignore", reason });
const isBot = (u: { login: string; type: string }) => u.type === "Bot" || u.login.endsWith("[bot]");
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const mentionPattern = (slug: string) => new RegExp(`(^|[^\\w-])@${escapeRe(slug)}(?![\\w-])`, "i");

/** The text without the app's mention(s). */
const withoutMention = (text: string, slug: string) =>
  text.replace(new RegExp(`@${escapeRe(slug)}(?![\\w-])`, "gi"), "").trim();

const issueContext = (i: { number: number; title: string; body: string | null }, kind: string) =>
  `${kind} #${i.number}: ${i.title}${i.body?.trim() ? `\n\n${i.body.trim()}` : ""}`;

/**
 * A delivery as the router sees it: a request (mention in an issue or PR comment or review
 * comment, or an issue assigned to the app's bot or to GITHUB_AGENT_LOGIN), an installation
 * change, or "ignore" with the reason. `slug` is the app's slug, `botLogin` its bot user
 * (`<slug>[bot]`), `agentLogin` the login set by GITHUB_AGENT_LOGIN.
 */
export function toTrigger(
  delivery: StoredDelivery,
  app: { slug: string; botLogin: string; agentLogin?: string },
): GitHubTrigger {
  const { event, payload } = delivery;
  if (event === "installation" || event === "installation_repositories") {
    const p = installationEvent.safeParse(payload);
    if (!p.success) return ignore(`unreadable ${event}`);
    const action = event === "installation_repositories" ? "repositories_changed" : p.data.action;
    return {
      type: "installation",
      action,
      installationId: p.data.installation.id,
      account: p.data.installation.account?.login,
    };
  }
  if (event === "issue_comment") {
    const p = issueComment.safeParse(payload);
    if (!p.success) return ignore("not a new issue comment");
    const { issue: i, comment: c, repository: r } = p.data;
    if (isBot(c.user) || isBot(p.data.sender)) return ignore("a bot's comment");
    const body = c.body ?? "";
    if (!mentionPattern(app.slug).test(body)) return ignore("no mention of the app");
    const isPullRequest = Boolean(i.pull_request);
    return {
      type: "request",
      installationId: p.data.installation.id,
      repo: r.full_name,
      number: i.number,
      isPullRequest,
      sender: c.user.login,
      reactTo: { kind: "issue_comment", id: c.id },
      text: withoutMention(body, app.slug),
      context: issueContext(i, isPullRequest ? "Pull request" : "Issue"),
    };
  }
  if (event === "pull_request_review_comment") {
    const p = reviewComment.safeParse(payload);
    if (!p.success) return ignore("not a new review comment");
    const { comment: c, pull_request: pr, repository: r } = p.data;
    if (isBot(c.user) || isBot(p.data.sender)) return ignore("a bot's comment");
    const body = c.body ?? "";
    if (!mentionPattern(app.slug).test(body)) return ignore("no mention of the app");
    const line = c.line ?? c.original_line;
    return {
      type: "request",
      installationId: p.data.installation.id,
      repo: r.full_name,
      number: pr.number,
      isPullRequest: true,
      headRef: pr.head.ref,
      headInRepo: (pr.head.repo?.full_name ?? r.full_name) === r.full_name,
      sender: c.user.login,
      reactTo: { kind: "review_comment", id: c.id },
      text: withoutMention(body, app.slug),
      context: `${issueContext(pr, "Pull request")}\n\nThe comment is on \`${c.path}\`${line ? ` line ${line}` : ""}:\n\`\`\`diff\n${c.diff_hunk}\n\`\`\``,
    };
  }
  if (event === "issues") {
    const p = issueAssigned.safeParse(payload);
    if (!p.success) return ignore("not an assignment");
    const { issue: i, repository: r } = p.data;
    const assignee = p.data.assignee?.login.toLowerCase();
    if (
      !assignee ||
      ![app.botLogin.toLowerCase(), app.agentLogin?.toLowerCase()].includes(assignee)
    )
      return ignore("assigned to someone else");
    if (isBot(p.data.sender)) return ignore("assigned by a bot");
    return {
      type: "request",
      installationId: p.data.installation.id,
      repo: r.full_name,
      number: i.number,
      isPullRequest: Boolean(i.pull_request),
      sender: p.data.sender.login,
      reactTo: { kind: "issue", number: i.number },
      text: "",
      context: issueContext(i, "Issue"),
    };
  }
  return ignore(`event ${event}`);
}

/** What the agent is asked: the request, then the issue or PR it is about. */
export function buildPrompt(
  req: Pick<GitHubRequest, "text" | "context" | "repo" | "sender">,
): string {
  const ask = req.text || "Resolve this issue.";
  return `${ask}\n\n---\nRequested by @${req.sender} on GitHub (${req.repo}).\n${req.context}`;
}

/** "new session", "start over", "fresh start": the person wants a new session, not the ended one. */
export const asksForFreshStart = (text: string) =>
  /\b(new session|start (over|again|fresh)|fresh start|from scratch)\b/i.test(text);

/** "@app stop" (or cancel), nothing else: the person wants the running session stopped. */
export const asksToStop = (text: string) => /^\/?(stop|cancel)[.!]*$/i.test(text.trim());
