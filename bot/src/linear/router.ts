import { and, eq, sql } from "drizzle-orm";
import {
  acceptInbound,
  addMessage,
  AppError,
  createSession,
  findBoundSession,
  isTerminal,
  RetryLaterError,
  schema,
  stopSession,
  type Db,
  type InboundEvent,
  type Logger,
  type SessionDeps,
} from "@tandem/core";
import { linearCall, type LinearWorkspaces } from "./client.ts";
import { PROVIDER } from "./config.ts";
import type { LinearOutbox } from "./outbox.ts";
import { createdEvent } from "./inbox.ts";
import { chooseRepository, defaultRepositories, suggester } from "./repository.ts";
import { buildPrompt, toTrigger, type LinearTrigger } from "./trigger-source.ts";

export interface LinearRouterDeps extends SessionDeps {
  defaultOrgName: string;
  outbox: LinearOutbox;
  workspaces: LinearWorkspaces;
}

type Start = Extract<LinearTrigger, { type: "start" }>;
type Action = Extract<LinearTrigger, { type: "action" }>;

/** How long a comment or an assignment waits for the agent session event Linear sends with it. */
const COMPANION_WAIT_MS = 6_000;
/** A delegation and the agent session it opened are this close in time. */
const SAME_ACTION_MS = 2 * 60_000;

/**
 * The `linear` inbound handler (worker): an agent session created becomes a Tandem session
 * bound to it (or a question about the repository), a prompt a follow-up turn, a stop request a
 * stop; everything else is ignored.
 */
export function createLinearRouter(deps: LinearRouterDeps) {
  return async (event: InboundEvent, log: Logger): Promise<void> => {
    const trigger = toTrigger(event.payload);
    if (trigger.type === "ignore") return log.debug({ reason: trigger.reason }, "linear.ignored");
    if (trigger.type === "action")
      return onAction(deps, trigger, log.child({ issueId: trigger.issueId }));
    const scoped = log.child({ agentSessionId: trigger.agentSessionId });
    if (trigger.type === "start") return onStart(deps, trigger, event.id, scoped);
    if (trigger.type === "stop") return onStop(deps, trigger, scoped);
    return onPrompt(deps, trigger, event.id, scoped);
  };
}

/**
 * The `created` events in the inbox for the same human action as `a`: the agent session opened
 * on that comment, or (a delegation) any agent session opened on the issue around then.
 */
async function createdForAction(
  db: Db,
  a: { commentId: string | null; issueId: string; at: number },
): Promise<string[]> {
  const p = schema.inboundEvents.payload;
  const rows = await db
    .select({ agentSessionId: sql<string>`${p}->'agentSession'->>'id'` })
    .from(schema.inboundEvents)
    .where(
      and(
        eq(schema.inboundEvents.provider, PROVIDER),
        sql`${p}->>'type' = 'AgentSessionEvent' AND ${p}->>'action' = 'created'`,
        a.commentId
          ? sql`coalesce(${p}->'agentSession'->'comment'->>'id', ${p}->'agentSession'->>'sourceCommentId') = ${a.commentId}`
          : sql`${p}->'agentSession'->'issue'->>'id' = ${a.issueId}
              AND abs((${p}->>'webhookTimestamp')::float8 - ${a.at}) < ${SAME_ACTION_MS}`,
      ),
    );
  return rows.map((r) => r.agentSessionId);
}

/** The Tandem session another agent session of the same human action is bound to, if any. */
async function startedForAction(deps: LinearRouterDeps, t: Start, at: number) {
  const others = (
    await createdForAction(deps.db, { commentId: t.commentId, issueId: t.issue?.id ?? "", at })
  ).filter((id) => id !== t.agentSessionId);
  for (const id of others) {
    const bound = await findBoundSession(deps.db, PROVIDER, id);
    if (bound) return bound;
  }
  return null;
}

const mentions = (body: string, names: string[]) =>
  names.some((n) =>
    new RegExp(`(^|[^\\w])@${n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w-])`, "i").test(body),
  );

/**
 * A comment or an assignment (Linear's data webhooks). Linear reports the same human action as an
 * agent session too, which starts the work: this one waits a few seconds for it, and only when
 * none came opens an agent session itself (so the work still shows in Linear). Either way, one
 * action, one session.
 */
async function onAction(deps: LinearRouterDeps, t: Action, log: Logger) {
  if (!(await deps.workspaces.orgOf(t.organizationId)))
    return log.info({ workspaceId: t.organizationId }, "linear.workspace_not_installed");
  const agent = await deps.workspaces.agent(t.organizationId);
  if (t.comment) {
    if (t.comment.userId === agent.id || t.comment.fromApp)
      return log.debug({ reason: "the agent's own comment" }, "linear.ignored");
    if (!mentions(t.comment.body, agent.names))
      return log.debug({ reason: "a comment without a mention" }, "linear.ignored");
  } else if (t.handedTo !== agent.id) {
    return log.debug({ reason: "handed to someone else" }, "linear.ignored");
  }
  const action = { commentId: t.comment?.id ?? null, issueId: t.issueId, at: t.at };
  const companions = await createdForAction(deps.db, action);
  if (companions.length) return log.info({ agentSessionIds: companions }, "linear.same_action");
  if (deps.clock.now().getTime() - t.at < COMPANION_WAIT_MS)
    throw new RetryLaterError(1_500, "waiting for the agent session event of the same action");
  // None came (Linear's agent session events may be off): open one, and start as if it had come.
  const client = await deps.workspaces.client({ workspaceId: t.organizationId });
  const opened = await linearCall(() =>
    t.comment
      ? client.agentSessionCreateOnComment({ commentId: t.comment.id })
      : client.agentSessionCreateOnIssue({ issueId: t.issueId }),
  );
  const agentSessionId = opened.agentSessionId;
  if (!agentSessionId) throw new Error("Linear opened no agent session");
  const issue = await linearCall(() => client.issue(t.issueId));
  const payload = {
    type: "AgentSessionEvent",
    action: "created",
    organizationId: t.organizationId,
    webhookTimestamp: t.at,
    openedByTandem: true,
    agentSession: {
      id: agentSessionId,
      issue: {
        id: issue.id,
        identifier: issue.identifier,
        title: issue.title,
        description: issue.description ?? null,
        url: issue.url,
      },
      comment: t.comment ? { id: t.comment.id, body: t.comment.body } : null,
      creator: null,
    },
  };
  await acceptInbound(
    { db: deps.db, queues: deps.queues, logger: log, clock: deps.clock },
    { provider: PROVIDER, deliveryId: `opened:${agentSessionId}`, payload },
  );
  log.info({ agentSessionId }, "linear.opened_agent_session");
}

async function onStart(deps: LinearRouterDeps, t: Start, eventId: string, log: Logger, pick = "") {
  if (await findBoundSession(deps.db, PROVIDER, t.agentSessionId))
    return log.info("linear.already_started");
  const same = await startedForAction(deps, t, deps.clock.now().getTime());
  if (same) return log.info({ sessionId: same.id }, "linear.same_action_started");
  const orgId = await deps.workspaces.orgOf(t.organizationId);
  if (!orgId) return log.info({ workspaceId: t.organizationId }, "linear.workspace_not_installed");
  const say = (
    kind: "error" | "elicitation" | "response",
    body: string,
    key: string,
    options?: string[],
  ) =>
    deps.outbox.send(
      {
        op: "say",
        workspaceId: t.organizationId,
        agentSessionId: t.agentSessionId,
        kind,
        body,
        ...(options ? { options } : {}),
      },
      key,
    );
  const texts = pick ? [pick] : [t.text, t.issue?.title ?? "", t.issue?.description ?? ""];
  const choice = await chooseRepository(
    deps.db,
    orgId,
    texts,
    t.issue?.id,
    Boolean(pick),
    await defaultRepositories(deps, t.organizationId, t.issue, log),
    suggester(deps, t.organizationId, t.agentSessionId, log),
  );
  if ("ask" in choice) {
    if (!choice.ask.length) {
      log.info("linear.no_repository");
      return say(
        "error",
        `This Tandem organization has no repository yet: an admin adds one in the workbench (${deps.publicUrl}), then mention me again.`,
        `no-repo-${eventId}`,
      );
    }
    log.info({ candidates: choice.ask.length, pick }, "linear.ask_repository");
    return say(
      "elicitation",
      `${pick ? `"${pick}" is not one of the repositories I know. ` : ""}Which repository should I work in?`,
      `ask-${eventId}`,
      choice.ask,
    );
  }
  const { repo } = choice;
  // Linear shows the agent as unresponsive without an activity within 10 s: say so at once.
  await deps.outbox.send(
    {
      op: "thought",
      workspaceId: t.organizationId,
      agentSessionId: t.agentSessionId,
      body: `Starting a sandbox for ${repo.name}…`,
    },
    `thought-${eventId}`,
  );
  let session;
  try {
    session = await createSession(deps, {
      orgId,
      repository: repo.name,
      prompt: buildPrompt(t),
      source: PROVIDER,
      binding: {
        provider: PROVIDER,
        threadKey: t.agentSessionId,
        ...(t.issue?.url ? { url: t.issue.url } : {}),
      },
    });
  } catch (err) {
    // The profile cannot start sessions (no ready snapshot, inactive): say why, start nothing.
    if (!(err instanceof AppError) || err.status !== 409) throw err;
    log.info({ reason: err.message }, "linear.profile_unavailable");
    return say("error", `I can't start a session yet: ${err.message}.`, `unavailable-${eventId}`);
  }
  await deps.outbox.send(
    {
      op: "link",
      workspaceId: t.organizationId,
      sessionId: session.id,
      agentSessionId: t.agentSessionId,
      ...(t.issue ? { issueId: t.issue.id } : {}),
    },
    `link-${session.id}`,
  );
  log.info({ sessionId: session.id, repository: repo.name }, "linear.session_started");
}

async function onPrompt(
  deps: LinearRouterDeps,
  t: Extract<LinearTrigger, { type: "prompt" }>,
  eventId: string,
  log: Logger,
) {
  const bound = await findBoundSession(deps.db, PROVIDER, t.agentSessionId);
  if (!bound) {
    // No session yet: the answer to which repository.
    const created = await createdEvent(deps.db, t.agentSessionId);
    if (!created) return log.info("linear.prompt_unknown_session");
    return onStart(deps, created, eventId, log, t.text.trim() || "(nothing)");
  }
  if (isTerminal(bound.status)) {
    return deps.outbox.send(
      {
        op: "say",
        workspaceId: t.organizationId,
        agentSessionId: t.agentSessionId,
        kind: "response",
        body: `This session has ${bound.status === "failed" ? "failed" : "ended"}; mention me again to start a new one.`,
      },
      `ended-${eventId}`,
    );
  }
  await addMessage(deps, {
    orgId: bound.orgId,
    sessionId: bound.id,
    text: t.text,
    source: PROVIDER,
  });
  log.info({ sessionId: bound.id }, "linear.follow_up");
}

async function onStop(
  deps: LinearRouterDeps,
  t: Extract<LinearTrigger, { type: "stop" }>,
  log: Logger,
) {
  const bound = await findBoundSession(deps.db, PROVIDER, t.agentSessionId);
  if (!bound || isTerminal(bound.status)) return log.info("linear.stop_nothing_running");
  // The follower sends the one final activity when the stopped status arrives.
  await stopSession(deps, bound.orgId, bound.id, "stopped from Linear");
  log.info({ sessionId: bound.id }, "linear.stopped");
}
