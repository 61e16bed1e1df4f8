import { and, eq, sql } from "drizzle-orm";
import {
  addMessage,
  AppError,
  createSession,
  findBoundSession,
  isTerminal,
  schema,
  stopSession,
  type Db,
  type InboundEvent,
  type Logger,
  type Repository,
  type SessionDeps,
} from "@tandem/core";
import { workspaceOrg } from "./client.ts";
import { PROVIDER } from "./config.ts";
import type { LinearOutbox } from "./outbox.ts";
import { buildPrompt, namedRepositories, toTrigger, type LinearTrigger } from "./trigger-source.ts";

export interface LinearRouterDeps extends SessionDeps {
  defaultOrgName: string;
  outbox: LinearOutbox;
}

type Start = Extract<LinearTrigger, { type: "start" }>;

/**
 * The `linear` inbound handler (worker): an agent session created becomes a Tandem session
 * bound to it (or a question about the repository), a prompt a follow-up turn, a stop request a
 * stop; everything else is ignored.
 */
export function createLinearRouter(deps: LinearRouterDeps) {
  return async (event: InboundEvent, log: Logger): Promise<void> => {
    const trigger = toTrigger(event.payload);
    if (trigger.type === "ignore") return log.debug({ reason: trigger.reason }, "linear.ignored");
    const scoped = log.child({ agentSessionId: trigger.agentSessionId });
    if (trigger.type === "start") return onStart(deps, trigger, event.id, scoped);
    if (trigger.type === "stop") return onStop(deps, trigger, scoped);
    return onPrompt(deps, trigger, event.id, scoped);
  };
}

/** The org's repository this request names, the only one it has, or the candidates to ask about. */
async function chooseRepository(
  db: Db,
  orgId: string,
  texts: string[],
): Promise<{ repo: Repository } | { ask: string[] }> {
  const all = await db.query.repositories.findMany({
    where: eq(schema.repositories.orgId, orgId),
    orderBy: schema.repositories.name,
  });
  const named = namedRepositories(...texts).map((n) => n.toLowerCase());
  const hit = all.find((r) => named.includes(r.name.toLowerCase()));
  if (hit) return { repo: hit };
  if (all.length === 1) return { repo: all[0]! };
  return { ask: all.map((r) => r.name) };
}

async function onStart(deps: LinearRouterDeps, t: Start, eventId: string, log: Logger, pick = "") {
  const orgId = await workspaceOrg(deps.db, t.organizationId, deps.defaultOrgName);
  const say = (
    kind: "error" | "elicitation" | "response",
    body: string,
    key: string,
    options?: string[],
  ) =>
    deps.outbox.send(
      { op: "say", agentSessionId: t.agentSessionId, kind, body, ...(options ? { options } : {}) },
      key,
    );
  const texts = pick ? [pick] : [t.text, t.issue?.title ?? "", t.issue?.description ?? ""];
  const choice = await chooseRepository(deps.db, orgId, texts);
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
      binding: { provider: PROVIDER, threadKey: t.agentSessionId },
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
      sessionId: session.id,
      agentSessionId: t.agentSessionId,
      ...(t.issue ? { issueId: t.issue.id } : {}),
    },
    `link-${session.id}`,
  );
  log.info({ sessionId: session.id, repository: repo.name }, "linear.session_started");
}

/** The `created` event of an agent session, from the inbox (for a pick answering our question). */
async function createdEvent(db: Db, agentSessionId: string): Promise<Start | null> {
  const [row] = await db
    .select({ payload: schema.inboundEvents.payload })
    .from(schema.inboundEvents)
    .where(
      and(
        eq(schema.inboundEvents.provider, PROVIDER),
        sql`${schema.inboundEvents.payload}->>'action' = 'created'`,
        sql`${schema.inboundEvents.payload}->'agentSession'->>'id' = ${agentSessionId}`,
      ),
    )
    .limit(1);
  const trigger = row ? toTrigger(row.payload) : null;
  return trigger?.type === "start" ? trigger : null;
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
