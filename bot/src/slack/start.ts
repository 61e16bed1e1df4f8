import {
  chooseRepository,
  createSession,
  resolveSessionProfileOrThrow,
  savePendingStart,
  type Logger,
  type Repository,
  type SessionDeps,
} from "@tandem/core";
import { noticeMessage, pickerMessage } from "./blocks.ts";
import type { SlackTeam } from "./client.ts";
import { channelKey, PICKER_TTL_MS, PROVIDER, threadKey } from "./config.ts";
import type { SlackOutbox } from "./outbox.ts";
import type { PendingStart } from "./repos.ts";
import { slackCall } from "./reporter.ts";

export interface StartDeps extends SessionDeps {
  outbox: SlackOutbox;
}

/** Slack's markup made plain: the bot's own mention removed, links and channels readable. */
export function cleanText(text: string, botUserId: string): string {
  return text
    .replaceAll(`<@${botUserId}>`, "")
    .replace(/<(https?:[^>|]+)\|[^>]*>/g, "$1")
    .replace(/<(https?:[^>]+)>/g, "$1")
    .replace(/<#\w+\|([^>]*)>/g, "#$1")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .trim();
}

export function buildPrompt(request: string, context: string[]): string {
  if (context.length === 0) return request;
  return `${request}\n\n---\nEarlier messages in the Slack thread, oldest first:\n${context.map((line) => `- ${line}`).join("\n")}`;
}

/** The thread's earlier messages, with who wrote them (conversations.replies, users.info). */
export async function threadContext(
  team: SlackTeam,
  channel: string,
  threadTs: string,
  beforeTs: string,
  log: Logger,
) {
  let messages;
  try {
    const res = await slackCall(() =>
      team.client.conversations.replies({ channel, ts: threadTs, limit: 50 }),
    );
    messages = (res.messages ?? []).filter(
      (m) => m.ts && Number(m.ts) < Number(beforeTs) && m.user !== team.botUserId,
    );
  } catch (err) {
    if ((err as Error).name === "RetryLaterError") throw err;
    log.warn({ err }, "slack.thread_context_failed");
    return [];
  }
  const names = new Map<string, string>();
  const nameOf = async (user: string) => {
    if (!names.has(user)) {
      const info = await team.client.users.info({ user }).catch(() => null);
      names.set(
        user,
        info?.user?.profile?.display_name || info?.user?.real_name || info?.user?.name || user,
      );
    }
    return names.get(user)!;
  };
  const lines: string[] = [];
  for (const m of messages) {
    const author = m.user
      ? `${await nameOf(m.user)} (<@${m.user}>)`
      : (m.bot_profile?.name ?? "a bot");
    lines.push(`${author}: ${cleanText(m.text ?? "", team.botUserId)}`);
  }
  return lines;
}

export interface StartRequest {
  channel: string;
  threadTs: string;
  /** The message that asked. */
  ts: string;
  user: string;
  /** The person's words, cleaned; repositories are looked for here, not in the context. */
  request: string;
  prompt: string;
  /** Named with `profile:<name>`; the org's default when absent. */
  profile?: string;
}

/** Starts a session for a request, or asks which repository with a picker. */
export async function startOrAsk(
  deps: StartDeps,
  team: SlackTeam,
  req: StartRequest,
): Promise<void> {
  // Before any picker: a profile that cannot start a session from Slack is said at once (409/404).
  await resolveSessionProfileOrThrow(deps.db, team.orgId, req.profile, PROVIDER);
  const choice = await chooseRepository(deps.db, {
    provider: PROVIDER,
    orgId: team.orgId,
    text: req.request,
    channelKey: channelKey(team.teamId, req.channel),
  });
  const key = threadKey(team.teamId, req.channel, req.threadTs);
  const reply = (text: string) =>
    deps.outbox.send(
      {
        op: "post",
        teamId: team.teamId,
        channel: req.channel,
        threadTs: req.threadTs,
        message: noticeMessage(text),
      },
      `notice-${req.channel}-${req.ts}`,
    );
  switch (choice.kind) {
    case "repo":
      return void (await startSession(deps, team, req, choice.repo));
    case "none":
      return reply(
        `No repositories are registered in Tandem yet. Add one at <${deps.publicUrl}|Tandem>, then mention me again.`,
      );
    case "unknown":
    case "choose": {
      const pending = await savePendingStart<PendingStart>(deps.db, deps.clock, {
        provider: PROVIDER,
        orgId: team.orgId,
        threadKey: key,
        payload: {
          teamId: team.teamId,
          channel: req.channel,
          threadTs: req.threadTs,
          prompt: req.prompt,
          user: req.user,
          profile: req.profile,
        },
        ttlMs: PICKER_TTL_MS,
      });
      const message = pickerMessage({
        pendingId: pending.id,
        repos: choice.repos.map((r) => r.name),
        named: choice.kind === "unknown" ? choice.named : undefined,
        publicUrl: deps.publicUrl,
      });
      return deps.outbox.send(
        { op: "post", teamId: team.teamId, channel: req.channel, threadTs: req.threadTs, message },
        `picker-${pending.id}`,
      );
    }
  }
}

/** Creates the session, binds the thread to it and shows its status message. */
export async function startSession(
  deps: StartDeps,
  team: SlackTeam,
  req: Pick<StartRequest, "channel" | "threadTs" | "prompt" | "profile">,
  repo: Repository,
) {
  const session = await createSession(deps, {
    orgId: team.orgId,
    repository: repo.name,
    prompt: req.prompt,
    source: PROVIDER,
    profile: req.profile,
    binding: { provider: PROVIDER, threadKey: threadKey(team.teamId, req.channel, req.threadTs) },
  });
  await deps.outbox.statusNow(session.id, "start");
  deps.logger.info(
    { sessionId: session.id, repository: repo.name, teamId: team.teamId },
    "slack.session_started",
  );
  return session;
}
