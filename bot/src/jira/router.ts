import {
  addMessage,
  AppError,
  createSession,
  findBoundSession,
  isTerminal,
  outboundRecord,
  RetryLaterError,
  stopSession,
  type InboundEvent,
  type Logger,
  type SessionDeps,
} from "@tandem/core";
import type { JiraSite, SiteData } from "./client.ts";
import { PROVIDER, threadKey, type JiraSettings } from "./config.ts";
import { REQUESTER } from "./outbound.ts";
import type { JiraOutbox } from "./outbox.ts";
import {
  chooseRepository,
  findPending,
  namedRepository,
  savePending,
  takePending,
  type PendingStart,
} from "./repository.ts";
import {
  asksToStop,
  buildPrompt,
  toTrigger,
  type JiraIssue,
  type JiraTrigger,
} from "./trigger-source.ts";

export interface JiraRouterDeps extends SessionDeps {
  settings: JiraSettings;
  site: JiraSite;
  outbox: JiraOutbox;
}

type Comment = Extract<JiraTrigger, { type: "comment" }>;
type Handed = Extract<JiraTrigger, { type: "handed" }>;

/**
 * The `jira` inbound handler (worker): a mention, an assignment or the trigger label becomes a
 * new session bound to the issue (or a question about the repository), a follow-up turn while
 * the issue's session lives, or a stop; the answer to the question starts the waiting request.
 */
export function createJiraRouter(deps: JiraRouterDeps) {
  return async (event: InboundEvent, log: Logger): Promise<void> => {
    const agent = await deps.site.agent();
    const trigger = toTrigger(event.payload, {
      accountId: agent.accountId,
      label: deps.settings.triggerLabel,
    });
    if (trigger.type === "ignore") return log.debug({ reason: trigger.reason }, "jira.ignored");
    const scoped = log.child({ issueKey: trigger.issue.key });
    if (trigger.type === "comment") return onComment(deps, trigger, event.id, scoped);
    return onHanded(deps, trigger, event.id, scoped);
  };
}

const issueUrl = (deps: JiraRouterDeps, issue: JiraIssue) =>
  `${deps.settings.baseUrl}/browse/${issue.key}`;

/** A one-off comment on the issue, in Markdown, mentioning `to` when known. */
const reply = (
  deps: JiraRouterDeps,
  issue: JiraIssue,
  to: string | null,
  body: string,
  key: string,
) =>
  deps.outbox.send(
    { op: "comment", issueKey: issue.key, body, ...(to ? { mention: to } : {}) },
    key,
  );

async function onComment(deps: JiraRouterDeps, t: Comment, eventId: string, log: Logger) {
  const key = threadKey(deps.settings.site, t.issue.key);
  if (!t.mentionsAgent) {
    // Not for the agent, unless it answers the agent's question about the repository.
    const pending = await findPending(deps.db, deps.clock, key);
    if (!pending) return log.debug({ reason: "a comment without a mention" }, "jira.ignored");
    return answer(deps, t, pending.id, eventId, log);
  }
  const bound = await findBoundSession(deps.db, PROVIDER, key);
  const live = bound && !isTerminal(bound.status) ? bound : null;
  if (asksToStop(t.text)) {
    if (!live)
      return reply(
        deps,
        t.issue,
        t.author.accountId,
        "Nothing is running on this issue to stop.",
        `stop-none-${eventId}`,
      );
    // The tracking comment turns to Stopped when the status event reaches the follower.
    await stopSession(deps, live.orgId, live.id, `stopped from Jira by ${t.author.name}`);
    return log.info({ sessionId: live.id }, "jira.stopped");
  }
  if (live) return followUp(deps, live, t.text || "Continue.", eventId, log);
  const pending = await findPending(deps.db, deps.clock, key);
  if (pending) return answer(deps, t, pending.id, eventId, log);
  return start(
    deps,
    { issue: t.issue, ask: { text: t.text, by: t.author.name }, requester: t.author.accountId },
    eventId,
    log,
  );
}

async function onHanded(deps: JiraRouterDeps, t: Handed, eventId: string, log: Logger) {
  const key = threadKey(deps.settings.site, t.issue.key);
  const bound = await findBoundSession(deps.db, PROVIDER, key);
  if (bound && !isTerminal(bound.status)) {
    const what =
      t.how === "assigned"
        ? "assigned this issue to you"
        : `labelled this issue ${deps.settings.triggerLabel}`;
    return followUp(
      deps,
      bound,
      `${t.by?.name ?? "Someone"} ${what} again: carry on with it.`,
      eventId,
      log,
    );
  }
  return start(
    deps,
    { issue: t.issue, ask: null, requester: t.by?.accountId ?? null },
    eventId,
    log,
  );
}

async function followUp(
  deps: JiraRouterDeps,
  session: { id: string; orgId: string },
  text: string,
  eventId: string,
  log: Logger,
) {
  await addMessage(deps, { orgId: session.orgId, sessionId: session.id, text, source: PROVIDER });
  await deps.outbox.statusNow(session.id, `follow-${eventId}`);
  log.info({ sessionId: session.id }, "jira.follow_up");
}

/** A comment while a request waits for its repository: naming one starts the request with it. */
async function answer(
  deps: JiraRouterDeps,
  t: Comment,
  pendingId: string,
  eventId: string,
  log: Logger,
) {
  const orgId = await deps.site.orgId();
  const choice = await namedRepository(deps.db, orgId, t.text);
  if (!("repo" in choice)) {
    // Only an attempt at naming one is answered; other talk on the issue is left alone.
    if (!choice.unknown && !t.mentionsAgent) return log.debug("jira.not_an_answer");
    return askRepository(
      deps,
      t.issue,
      t.author.accountId,
      choice.ask.map((r) => r.name),
      choice.unknown,
      eventId,
    );
  }
  const waiting = await takePending(deps.db, pendingId);
  if (!waiting) return log.info("jira.answer_already_taken");
  return start(deps, waiting, eventId, log, choice.repo.name);
}

function askRepository(
  deps: JiraRouterDeps,
  issue: JiraIssue,
  to: string | null,
  names: string[],
  unknown: string | undefined,
  eventId: string,
) {
  const list = names.map((n) => `- \`${n}\``).join("\n");
  return reply(
    deps,
    issue,
    to,
    `${unknown ? `\`${unknown}\` is not one of this organization's repositories. ` : ""}Which repository should I work in? Reply with one of:\n\n${list}`,
    `ask-${eventId}`,
  );
}

async function start(
  deps: JiraRouterDeps,
  req: PendingStart,
  eventId: string,
  log: Logger,
  repository?: string,
) {
  const key = threadKey(deps.settings.site, req.issue.key);
  // Comment events carry no description, and the issue may have changed: read it as it is now.
  try {
    req = { ...req, issue: { ...req.issue, ...(await deps.site.issue(req.issue.key)) } };
  } catch (err) {
    if (err instanceof RetryLaterError) throw err;
    log.warn({ err }, "jira.issue_unreadable");
  }
  const installation = await deps.site.installation();
  const orgId = installation.orgId;
  const previous = await findBoundSession(deps.db, PROVIDER, key);
  const choice = repository
    ? { repo: { name: repository } }
    : await chooseRepository(deps.db, {
        orgId,
        texts: [req.ask?.text ?? "", req.issue.summary, req.issue.description],
        issue: req.issue,
        site: installation.data as SiteData,
        previous: previous?.repositoryId ?? null,
      });
  if (!("repo" in choice)) {
    if (!choice.ask.length) {
      log.info("jira.no_repository");
      return reply(
        deps,
        req.issue,
        req.requester,
        `This Tandem organization has no repository yet: an admin adds one in the workbench (${deps.publicUrl}), then mention me again.`,
        `no-repo-${eventId}`,
      );
    }
    await savePending(deps.db, deps.clock, orgId, key, req);
    log.info({ candidates: choice.ask.length }, "jira.ask_repository");
    return askRepository(
      deps,
      req.issue,
      req.requester,
      choice.ask.map((r) => r.name),
      choice.unknown,
      eventId,
    );
  }
  const url = issueUrl(deps, req.issue);
  let session;
  try {
    session = await createSession(deps, {
      orgId,
      repository: choice.repo.name,
      prompt: buildPrompt(req.issue, url, req.ask),
      source: PROVIDER,
      binding: { provider: PROVIDER, threadKey: key, url },
    });
  } catch (err) {
    // The profile cannot start sessions (no ready snapshot, inactive): say why, start nothing.
    if (!(err instanceof AppError) || err.status !== 409) throw err;
    log.info({ reason: err.message }, "jira.profile_unavailable");
    return reply(
      deps,
      req.issue,
      req.requester,
      `I can't start a session yet: ${err.message}. An admin can fix that on the Profiles page.`,
      `unavailable-${eventId}`,
    );
  }
  if (req.requester)
    await outboundRecord.remember(
      deps.db,
      deps.clock,
      { sessionId: session.id, provider: PROVIDER, kind: REQUESTER, target: key },
      req.requester,
    );
  await deps.outbox.statusNow(session.id, "start");
  if (deps.settings.moveToInProgress)
    await deps.outbox.send(
      { op: "start_progress", issueKey: req.issue.key },
      `progress-${session.id}`,
    );
  log.info({ sessionId: session.id, repository: choice.repo.name }, "jira.session_started");
}
