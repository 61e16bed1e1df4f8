import {
  addMessage,
  AppError,
  findBoundSession,
  isTerminal,
  schema,
  sessionUrl,
  stopSession,
  takePendingStart,
  takeProfile,
  type InboundEvent,
  type Logger,
} from "@tandem/core";
import { and, eq } from "drizzle-orm";
import { escapeText, noticeMessage, pendingIdFromBlock } from "./blocks.ts";
import type { SlackTeam, SlackTeams } from "./client.ts";
import { runCommand } from "./commands.ts";
import { ACTIONS, PROVIDER, threadKey } from "./config.ts";
import type { PendingStart } from "./repos.ts";
import {
  buildPrompt,
  cleanText,
  startOrAsk,
  startSession,
  threadContext,
  type StartDeps,
} from "./start.ts";
import { toTrigger, type SlackTrigger } from "./trigger-source.ts";

export interface SlackRouterDeps extends StartDeps {
  teams: SlackTeams;
  allowBots: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Message = Extract<SlackTrigger, { type: "message" }>;
type Action = Extract<SlackTrigger, { type: "action" }>;

/**
 * The `slack` inbound handler (worker): a committed delivery becomes a new session, a follow-up,
 * a stop, a picked repository, a slash command, or nothing.
 */
export function createSlackRouter(deps: SlackRouterDeps) {
  return async (event: InboundEvent, log: Logger): Promise<void> => {
    const trigger = toTrigger(event.payload, { allowBots: deps.allowBots });
    if (trigger.type === "ignore") return log.debug({ reason: trigger.reason }, "slack.ignored");
    const team = await deps.teams.forTeam(trigger.teamId);
    if (!team) return log.warn({ teamId: trigger.teamId }, "slack.unknown_team");
    const tlog = log.child({ teamId: team.teamId, orgId: team.orgId });
    try {
      if (trigger.type === "message") return await onMessage(deps, team, trigger, tlog);
      if (trigger.type === "action") return await onAction(deps, team, trigger, tlog);
      return await runCommand(deps, team, trigger, event.id);
    } catch (err) {
      // A request Tandem cannot do (4xx) is answered in the thread; anything else is retried.
      if (!(err instanceof AppError) || err.status >= 500 || err.code === "retry_later") throw err;
      tlog.info({ err }, "slack.request_refused");
      const threadTs =
        trigger.type === "message"
          ? (trigger.threadTs ?? trigger.ts)
          : trigger.type === "action"
            ? trigger.threadTs
            : undefined;
      const message = noticeMessage(`:warning: That did not work: ${escapeText(err.message)}.`);
      await deps.outbox.send(
        {
          op: "post",
          teamId: team.teamId,
          channel: trigger.channel,
          threadTs,
          message,
          ...(trigger.type === "command" ? { ephemeralUser: trigger.user } : {}),
        },
        `refused-${event.id}`,
      );
    }
  };
}

async function onMessage(deps: SlackRouterDeps, team: SlackTeam, m: Message, log: Logger) {
  if (m.user === team.botUserId) return;
  // A channel message that mentions the bot also arrives as app_mention; that one is handled.
  if (!m.mention && !m.isDm && m.text.includes(`<@${team.botUserId}>`)) return;
  const threadTs = m.threadTs ?? m.ts;
  const bound = m.threadTs
    ? await findBoundSession(deps.db, PROVIDER, threadKey(team.teamId, m.channel, threadTs))
    : null;
  const asks = m.mention || m.isDm;
  if (!bound && !asks) return; // a reply in a thread Tandem is not part of

  const acknowledge = () =>
    deps.outbox.send(
      { op: "react", teamId: team.teamId, channel: m.channel, ts: m.ts },
      `${m.channel}-${m.ts}`,
    );
  const text = cleanText(m.text, team.botUserId);
  if (bound && !isTerminal(bound.status)) {
    if (!text) return;
    await acknowledge();
    await addMessage(deps, { orgId: bound.orgId, sessionId: bound.id, text, source: PROVIDER });
    return log.info({ sessionId: bound.id }, "slack.follow_up");
  }
  if (bound && !asks) {
    const message = noticeMessage(
      `This session has ${bound.status === "failed" ? "failed" : "ended"}. Mention me to start a new one here.`,
      sessionUrl(deps.publicUrl, bound.id),
    );
    return deps.outbox.send(
      { op: "post", teamId: team.teamId, channel: m.channel, threadTs, message },
      `ended-${m.channel}-${m.ts}`,
    );
  }

  await acknowledge();
  const context = m.threadTs ? await threadContext(team, m.channel, threadTs, m.ts, log) : [];
  const { profile, text: request } = takeProfile(text);
  if (!request && context.length === 0) {
    const message = noticeMessage(
      "What should I work on? Mention me with a request, e.g. _fix the flaky login test in acme/app_.",
    );
    return deps.outbox.send(
      { op: "post", teamId: team.teamId, channel: m.channel, threadTs, message },
      `empty-${m.channel}-${m.ts}`,
    );
  }
  const prompt = buildPrompt(request || "Do what this thread asks for.", context);
  await startOrAsk(deps, team, {
    channel: m.channel,
    threadTs,
    ts: m.ts,
    user: m.user,
    request,
    prompt,
    profile,
  });
}

async function onAction(deps: SlackRouterDeps, team: SlackTeam, a: Action, log: Logger) {
  const threadTs = a.threadTs ?? a.messageTs;
  if (a.actionId === ACTIONS.stop) {
    if (!UUID.test(a.value)) return;
    const session = await deps.db.query.sessions.findFirst({
      where: and(eq(schema.sessions.id, a.value), eq(schema.sessions.orgId, team.orgId)),
    });
    if (!session || isTerminal(session.status)) return;
    await stopSession(deps, team.orgId, session.id, "stopped from Slack");
    await deps.outbox.statusNow(session.id, `stop-${a.messageTs ?? ""}`);
    const message = noticeMessage(
      `:black_square_for_stop: Stopped by <@${a.user}>.`,
      sessionUrl(deps.publicUrl, session.id),
    );
    await deps.outbox.send(
      { op: "post", teamId: team.teamId, channel: a.channel, threadTs, message },
      `stopped-${session.id}`,
    );
    return log.info({ sessionId: session.id }, "slack.stopped");
  }
  // The repository picker.
  const pending = await takePendingStart<PendingStart>(deps.db, deps.clock, {
    provider: PROVIDER,
    orgId: team.orgId,
    id: pendingIdFromBlock(a.blockId),
  });
  if (pending === "gone") return;
  const edit = (text: string) =>
    a.messageTs
      ? deps.outbox.send(
          {
            op: "update",
            teamId: team.teamId,
            channel: a.channel,
            ts: a.messageTs,
            message: noticeMessage(text),
          },
          `picked-${a.blockId}`,
        )
      : Promise.resolve();
  if (pending === "expired")
    return edit("This request expired (a picker waits an hour). Mention me again to start.");
  const repo = await deps.db.query.repositories.findFirst({
    where: and(eq(schema.repositories.orgId, team.orgId), eq(schema.repositories.name, a.value)),
  });
  if (!repo)
    return edit(
      `The repository \`${a.value}\` is no longer registered. Mention me again to start.`,
    );
  await edit(`Starting on \`${repo.name}\`, picked by <@${a.user}>.`);
  await startSession(
    deps,
    team,
    {
      channel: pending.channel,
      threadTs: pending.threadTs,
      prompt: pending.prompt,
      profile: pending.profile,
    },
    repo,
  );
}
