import { createHmac, randomUUID } from "node:crypto";
import type {
  AgentSessionEventWebhookPayload,
  EntityWebhookPayloadWithCommentData,
  EntityWebhookPayloadWithIssueData,
} from "@linear/sdk/webhooks";

// Webhook bodies as Linear sends them, typed against @linear/sdk's webhook payload types (whose
// field names and optionality follow Linear's webhook schema) and checked against the shapes that
// linear.app/developers/agent-interaction and /developers/webhooks describe.

export const LINEAR_WEBHOOK_SECRET = "test-linear-webhook-secret";
/** The Tandem agent's app user (the `viewer` of its token, `appUserId` in agent session events). */
export const AGENT_USER_ID = "5b1c9a1e-0000-4000-8000-00000000a9e7";
/** The person who mentions or delegates to the agent unless a builder is told otherwise. */
export const HUMAN_USER_ID = "5b1c9a1e-0000-4000-8000-0000000a11ce";
export const ORG_ID = "5b1c9a1e-0000-4000-8000-000000000046";
export const ORG_URL_KEY = "tandem-test";
/** The OAuth application the agent's app user belongs to. */
export const OAUTH_CLIENT_ID = "5b1c9a1e-0000-4000-8000-00000000c11e";

/** What the builders need of an issue (a FakeLinear issue fits). */
interface LinearIssueRef {
  id: string;
  identifier: string;
  title: string;
  description?: string | null;
  url?: string;
  teamId?: string;
  team?: { id: string; key: string; name: string };
}
/** A person or app user as webhooks embed them. */
interface LinearUserRef {
  id: string;
  name: string;
  email: string;
  url?: string;
  avatarUrl?: string | null;
}

/** Payloads carry dates as ISO strings (the SDK's types say Date for the envelope's createdAt). */
type Wire<T> = Omit<T, "createdAt"> & { createdAt: string };

const KNOWN_USERS: Record<string, Omit<LinearUserRef, "id">> = {
  [AGENT_USER_ID]: { name: "Tandem", email: "tandem@oauthapp.linear.test" },
  [HUMAN_USER_ID]: { name: "Alice Example", email: "alice@example.test" },
};

function userPayload(user: string | LinearUserRef) {
  const u: LinearUserRef =
    typeof user === "string"
      ? {
          id: user,
          ...(KNOWN_USERS[user] ?? {
            name: `User ${user.slice(0, 8)}`,
            email: `${user}@example.test`,
          }),
        }
      : user;
  const handle = u.name.toLowerCase().replace(/[^a-z0-9]+/g, "");
  return {
    id: u.id,
    name: u.name,
    email: u.email,
    avatarUrl: u.avatarUrl ?? null,
    url: u.url ?? `https://linear.app/${ORG_URL_KEY}/profiles/${handle}`,
  };
}

function teamOf(issue: LinearIssueRef) {
  if (issue.team) return issue.team;
  const key = issue.identifier.split("-")[0]!;
  return { id: issue.teamId ?? `team-${key.toLowerCase()}`, key, name: key };
}

const issueUrl = (issue: LinearIssueRef) =>
  issue.url ?? `https://linear.app/${ORG_URL_KEY}/issue/${issue.identifier.toLowerCase()}`;

/** The issue as agent session events embed it (IssueWithDescriptionChildWebhookPayload). */
function sessionIssue(issue: LinearIssueRef) {
  const team = teamOf(issue);
  return {
    id: issue.id,
    identifier: issue.identifier,
    title: issue.title,
    description: issue.description ?? null,
    url: issueUrl(issue),
    teamId: team.id,
    team,
  };
}

/** The fields every webhook body carries. */
function envelope(at: number) {
  return {
    createdAt: new Date(at).toISOString(),
    organizationId: ORG_ID,
    webhookId: randomUUID(),
    webhookTimestamp: at,
  };
}

/** An approximation of Linear's promptContext: the issue, then the comment that started the session. */
function defaultPromptContext(issue: LinearIssueRef, comment?: { body: string; author: string }) {
  const team = teamOf(issue);
  const lines = [
    `<issue identifier="${issue.identifier}">`,
    `<title>${issue.title}</title>`,
    ...(issue.description ? ["<description>", issue.description, "</description>"] : []),
    `<team name="${team.name}"/>`,
    "</issue>",
  ];
  if (comment)
    lines.push(
      "",
      "<primary-directive-thread>",
      `<comment author="${comment.author}">`,
      comment.body,
      "</comment>",
      "</primary-directive-thread>",
    );
  return lines.join("\n");
}

function agentSessionPayload(o: {
  agentSessionId: string;
  status: string;
  at: string;
  issue?: LinearIssueRef;
  comment?: { id: string; body: string; userId: string };
  creator?: ReturnType<typeof userPayload> | null;
}) {
  return {
    id: o.agentSessionId,
    type: "commentThread",
    status: o.status,
    appUserId: AGENT_USER_ID,
    organizationId: ORG_ID,
    issueId: o.issue?.id ?? null,
    issue: o.issue ? sessionIssue(o.issue) : null,
    commentId: o.comment?.id ?? null,
    comment: o.comment ? { ...o.comment, issueId: o.issue?.id ?? null } : null,
    creatorId: o.creator?.id ?? null,
    creator: o.creator ?? null,
    sourceCommentId: null,
    sourceMetadata: null,
    summary: null,
    url: `https://linear.app/${ORG_URL_KEY}/agent-session/${o.agentSessionId}`,
    createdAt: o.at,
    updatedAt: o.at,
    startedAt: null,
    endedAt: null,
    archivedAt: null,
  };
}

/**
 * `AgentSessionEvent` / `created`: the agent was mentioned in a comment (`comment`) or delegated
 * the issue (no comment). Carries the session with its issue, comment and creator, and a
 * promptContext (yours, or an approximation of Linear's built from the issue and comment).
 */
export function agentSessionCreated(o: {
  agentSessionId: string;
  issue: LinearIssueRef;
  comment?: { id?: string; body: string; userId?: string };
  /** The responsible person; null for a session started by automation. */
  creator?: string | LinearUserRef | null;
  promptContext?: string;
  previousComments?: Array<{ id: string; body: string; userId: string }>;
  webhookTimestamp?: number;
}): Wire<AgentSessionEventWebhookPayload> {
  const at = o.webhookTimestamp ?? Date.now();
  const creator = o.creator === null ? null : userPayload(o.creator ?? HUMAN_USER_ID);
  const comment = o.comment && {
    id: o.comment.id ?? randomUUID(),
    body: o.comment.body,
    userId: o.comment.userId ?? creator?.id ?? HUMAN_USER_ID,
  };
  const base = envelope(at);
  return {
    type: "AgentSessionEvent",
    action: "created",
    ...base,
    appUserId: AGENT_USER_ID,
    oauthClientId: OAUTH_CLIENT_ID,
    agentSession: agentSessionPayload({
      agentSessionId: o.agentSessionId,
      status: "pending",
      at: base.createdAt,
      issue: o.issue,
      comment,
      creator,
    }),
    promptContext:
      o.promptContext ??
      defaultPromptContext(o.issue, comment && { body: comment.body, author: creator?.name ?? "" }),
    previousComments: o.previousComments?.map((c) => ({ ...c, issueId: o.issue.id })),
    guidance: [],
  };
}

/**
 * `AgentSessionEvent` / `prompted`: a person wrote into the session; `agentActivity.content` is
 * `{ type: "prompt", body }` and `signal` is "stop" when they asked the agent to stop.
 */
export function agentSessionPrompted(o: {
  agentSessionId: string;
  body: string;
  signal?: "stop" | "continue" | "auth" | "select";
  issue?: LinearIssueRef;
  userId?: string;
  activityId?: string;
  sourceCommentId?: string;
  webhookTimestamp?: number;
}): Wire<AgentSessionEventWebhookPayload> {
  const at = o.webhookTimestamp ?? Date.now();
  const base = envelope(at);
  const user = userPayload(o.userId ?? HUMAN_USER_ID);
  return {
    type: "AgentSessionEvent",
    action: "prompted",
    ...base,
    appUserId: AGENT_USER_ID,
    oauthClientId: OAUTH_CLIENT_ID,
    agentSession: agentSessionPayload({
      agentSessionId: o.agentSessionId,
      status: "active",
      at: base.createdAt,
      issue: o.issue,
      creator: user,
    }),
    agentActivity: {
      id: o.activityId ?? randomUUID(),
      agentSessionId: o.agentSessionId,
      content: { type: "prompt", body: o.body },
      signal: o.signal ?? null,
      signalMetadata: null,
      sourceCommentId: o.sourceCommentId ?? null,
      userId: user.id,
      user,
      createdAt: base.createdAt,
      updatedAt: base.createdAt,
      archivedAt: null,
    },
  };
}

/** `Comment` / `create`: someone commented on an issue (a reply when `parentId` is set). */
export function commentCreated(o: {
  issueId: string;
  body: string;
  userId: string;
  commentId?: string;
  parentId?: string;
  /** The issue, for the payload's `issue` and `url`. */
  issue?: LinearIssueRef;
  webhookTimestamp?: number;
}): Wire<EntityWebhookPayloadWithCommentData> {
  const at = o.webhookTimestamp ?? Date.now();
  const base = envelope(at);
  const id = o.commentId ?? randomUUID();
  const user = userPayload(o.userId);
  const issue = o.issue && {
    id: o.issue.id,
    identifier: o.issue.identifier,
    title: o.issue.title,
    url: issueUrl(o.issue),
    teamId: teamOf(o.issue).id,
    team: teamOf(o.issue),
  };
  return {
    type: "Comment",
    action: "create",
    ...base,
    actor: { ...user, type: "user" },
    url: `${issue?.url ?? `https://linear.app/${ORG_URL_KEY}/issue/${o.issueId}`}#comment-${id.slice(0, 8)}`,
    data: {
      id,
      body: o.body,
      issueId: o.issueId,
      ...(issue ? { issue } : {}),
      parentId: o.parentId ?? null,
      userId: user.id,
      user,
      reactionData: [],
      botActor: null,
      editedAt: null,
      createdAt: base.createdAt,
      updatedAt: base.createdAt,
    },
  };
}

/**
 * `Issue` / `update`: `issue` now has the assignee and delegate in `assigneeId` / `delegateId`;
 * `updatedFrom` holds their previous values (and the previous `updatedAt`), as Linear sends it.
 */
export function issueUpdated(o: {
  issue: LinearIssueRef & {
    number?: number;
    stateId?: string;
    assigneeId?: string | null;
    delegateId?: string | null;
  };
  updatedFrom: { assigneeId?: string | null; delegateId?: string | null };
  /** The issue's workflow state (defaults to an unstarted "Todo"). */
  state?: { id: string; name: string; type: string; color?: string };
  actorId?: string;
  webhookTimestamp?: number;
}): Wire<EntityWebhookPayloadWithIssueData> {
  const at = o.webhookTimestamp ?? Date.now();
  const base = envelope(at);
  const team = teamOf(o.issue);
  const state = {
    id: o.state?.id ?? o.issue.stateId ?? "state-todo",
    name: o.state?.name ?? "Todo",
    type: o.state?.type ?? "unstarted",
    color: o.state?.color ?? "#e2e2e2",
  };
  const assigneeId = o.issue.assigneeId ?? null;
  const delegateId = o.issue.delegateId ?? null;
  const number = o.issue.number ?? Number(o.issue.identifier.split("-")[1] ?? 1);
  const earlier = new Date(at - 60_000).toISOString();
  return {
    type: "Issue",
    action: "update",
    ...base,
    actor: { ...userPayload(o.actorId ?? HUMAN_USER_ID), type: "user" },
    url: issueUrl(o.issue),
    data: {
      id: o.issue.id,
      identifier: o.issue.identifier,
      number,
      title: o.issue.title,
      description: o.issue.description ?? null,
      url: issueUrl(o.issue),
      teamId: team.id,
      team,
      stateId: state.id,
      state,
      assigneeId,
      assignee: assigneeId ? userPayload(assigneeId) : null,
      delegateId,
      delegate: delegateId ? userPayload(delegateId) : null,
      creatorId: HUMAN_USER_ID,
      labelIds: [],
      labels: [],
      releases: [],
      subscriberIds: [HUMAN_USER_ID],
      previousIdentifiers: [],
      priority: 0,
      priorityLabel: "No priority",
      prioritySortOrder: 0,
      sortOrder: number,
      reactionData: [],
      botActor: null,
      createdAt: earlier,
      updatedAt: base.createdAt,
    },
    updatedFrom: { updatedAt: earlier, ...o.updatedFrom },
  };
}

/**
 * The headers of a Linear webhook delivery: `Linear-Signature` (hex HMAC-SHA256 of the raw body
 * with the webhook's secret), `Linear-Delivery` (a uuid), `Linear-Event` (the payload's `type`).
 */
export function linearHeaders(body: string, opts: { secret?: string; deliveryId?: string } = {}) {
  let event = "";
  try {
    event = String((JSON.parse(body) as { type?: unknown }).type ?? "");
  } catch {
    // not JSON: no event type
  }
  return {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": "Linear-Webhook",
    "Linear-Delivery": opts.deliveryId ?? randomUUID(),
    "Linear-Event": event,
    "Linear-Signature": createHmac("sha256", opts.secret ?? LINEAR_WEBHOOK_SECRET)
      .update(body)
      .digest("hex"),
  };
}

/** POSTs `payload` (an object, or a raw body as is) to `${base}/hooks/linear`, signed. */
export async function postLinear(
  base: string,
  payload: unknown,
  opts: { secret?: string; deliveryId?: string; signature?: string } = {},
) {
  const raw = typeof payload === "string" ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = linearHeaders(raw, opts);
  if (opts.signature !== undefined) headers["Linear-Signature"] = opts.signature;
  const res = await fetch(`${base}/hooks/linear`, { method: "POST", body: raw, headers });
  return { status: res.status, text: await res.text() };
}
