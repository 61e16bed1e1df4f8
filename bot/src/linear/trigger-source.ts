import { z } from "zod";

const issue = z.object({
  id: z.string(),
  identifier: z.string(),
  title: z.string().default(""),
  description: z.string().nullable().optional(),
  url: z.string().default(""),
  teamId: z.string().optional(),
  team: z.object({ id: z.string(), key: z.string().optional() }).passthrough().optional(),
});
const agentSessionEvent = z.object({
  type: z.literal("AgentSessionEvent"),
  action: z.string(),
  organizationId: z.string(),
  appUserId: z.string().optional(),
  promptContext: z.string().nullable().optional(),
  agentSession: z.object({
    id: z.string(),
    issue: issue.nullable().optional(),
    comment: z
      .object({ id: z.string(), body: z.string().default("") })
      .nullable()
      .optional(),
    sourceCommentId: z.string().nullable().optional(),
    creator: z.object({ id: z.string(), name: z.string().optional() }).nullable().optional(),
  }),
  agentActivity: z
    .object({
      content: z.object({ type: z.string().optional(), body: z.string().optional() }).passthrough(),
      signal: z.string().nullable().optional(),
      userId: z.string().optional(),
    })
    .nullable()
    .optional(),
});

type LinearIssue = z.infer<typeof issue>;

const commentEvent = z.object({
  type: z.literal("Comment"),
  action: z.literal("create"),
  organizationId: z.string(),
  webhookTimestamp: z.number(),
  data: z.object({
    id: z.string(),
    body: z.string().default(""),
    issueId: z.string().nullable().optional(),
    userId: z.string().nullable().optional(),
    botActor: z.unknown().optional(),
  }),
});
const issueEvent = z.object({
  type: z.literal("Issue"),
  action: z.literal("update"),
  organizationId: z.string(),
  webhookTimestamp: z.number(),
  data: z.object({
    id: z.string(),
    assigneeId: z.string().nullable().optional(),
    delegateId: z.string().nullable().optional(),
  }),
  updatedFrom: z.record(z.string(), z.unknown()).default({}),
});

/** What a Linear webhook asks of the router. */
export type LinearTrigger =
  | {
      type: "start";
      organizationId: string;
      agentSessionId: string;
      issue: LinearIssue | null;
      /** What the person wrote (the mentioning comment), if anything. */
      text: string;
      /** That comment: the human action this session answers (none for a delegation). */
      commentId: string | null;
      /** Linear's own prompt: the issue, its comments and the team's guidance. */
      context: string;
      creator: string | null;
    }
  | { type: "prompt"; organizationId: string; agentSessionId: string; text: string }
  | { type: "stop"; organizationId: string; agentSessionId: string }
  /**
   * A data webhook for the same human action an agent session event reports (a comment, an
   * assignment): the router lets it start work only when no agent session comes for it.
   */
  | {
      type: "action";
      organizationId: string;
      /** When Linear sent it (ms). */
      at: number;
      issueId: string;
      /** The comment that may mention the agent; absent for a delegation or assignment. */
      comment?: { id: string; body: string; userId: string | null; fromApp: boolean };
      /** The user the issue was just assigned or delegated to. */
      handedTo?: string;
    }
  | { type: "ignore"; reason: string };

const ignore = (reason: string): LinearTrigger => ({ type: "ignore", reason });

/** The issue as the agent reads it when Linear sent no prompt context. */
const issueContext = (i: LinearIssue) =>
  `Linear issue ${i.identifier}: ${i.title}${i.description?.trim() ? `\n\n${i.description.trim()}` : ""}`;

/**
 * A committed webhook payload as the router sees it: an agent session created (the agent was
 * mentioned or delegated an issue), a prompt in it, a stop request, or "ignore" with the reason.
 */
export function toTrigger(payload: unknown): LinearTrigger {
  const type = (payload as { type?: unknown } | null)?.type;
  if (type === "Comment") {
    const p = commentEvent.safeParse(payload);
    if (!p.success) return ignore("not a new comment");
    const c = p.data.data;
    if (!c.issueId) return ignore("a comment on something other than an issue");
    return {
      type: "action",
      organizationId: p.data.organizationId,
      at: p.data.webhookTimestamp,
      issueId: c.issueId,
      comment: { id: c.id, body: c.body, userId: c.userId ?? null, fromApp: Boolean(c.botActor) },
    };
  }
  if (type === "Issue") {
    const p = issueEvent.safeParse(payload);
    if (!p.success) return ignore("not an issue update");
    const { data, updatedFrom } = p.data;
    // Decided from what changed, not from the issue as it is now.
    const handedTo =
      "delegateId" in updatedFrom && updatedFrom.delegateId !== data.delegateId
        ? data.delegateId
        : "assigneeId" in updatedFrom && updatedFrom.assigneeId !== data.assigneeId
          ? data.assigneeId
          : null;
    if (!handedTo) return ignore("an issue update that hands the issue to nobody new");
    return {
      type: "action",
      organizationId: p.data.organizationId,
      at: p.data.webhookTimestamp,
      issueId: data.id,
      handedTo,
    };
  }
  if (type !== "AgentSessionEvent") return ignore(`webhook ${String(type)}`);
  const p = agentSessionEvent.safeParse(payload);
  if (!p.success) return ignore("unreadable AgentSessionEvent");
  const { action, organizationId, agentSession: s } = p.data;
  if (action === "created") {
    const i = s.issue ?? null;
    return {
      type: "start",
      organizationId,
      agentSessionId: s.id,
      issue: i,
      text: s.comment?.body ?? "",
      commentId: s.comment?.id ?? s.sourceCommentId ?? null,
      context: p.data.promptContext?.trim() || (i ? issueContext(i) : ""),
      creator: s.creator?.name ?? null,
    };
  }
  if (action === "prompted") {
    const activity = p.data.agentActivity;
    if (activity?.signal === "stop") return { type: "stop", organizationId, agentSessionId: s.id };
    return {
      type: "prompt",
      organizationId,
      agentSessionId: s.id,
      text: activity?.content.body ?? "",
    };
  }
  return ignore(`AgentSessionEvent ${action}`);
}

/** What the agent is asked: the request, then Linear's context. */
export function buildPrompt(t: Extract<LinearTrigger, { type: "start" }>): string {
  const ask = t.text.trim() || (t.issue ? `Resolve ${t.issue.identifier}.` : "Help with this.");
  const who = t.creator ? `Requested by ${t.creator} in Linear` : "Requested in Linear";
  return `${ask}\n\n---\n${who}${t.issue ? ` (${t.issue.identifier}, ${t.issue.url})` : ""}.\n${t.context}`;
}
