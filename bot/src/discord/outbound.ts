import type { Redis } from "ioredis";
import { eq } from "drizzle-orm";
import {
  findBinding,
  loadSessionStatus,
  loadTurnResult,
  outboundRecord,
  RetryLaterError,
  schema,
  sessionUrl,
  withRedisLock,
  type Clock,
  type Db,
  type Logger,
} from "@tandem/core";
import { DiscordCallError, type DiscordApi } from "./client.ts";
import { parseThreadKey, PROVIDER, STATUS_EDIT_INTERVAL_MS } from "./config.ts";
import { failureMessage, statusMessage, summaryMessages, type DiscordMessage } from "./messages.ts";
import type { DiscordOutboundJob } from "./outbox.ts";

/** The `outbound_messages` kind that keeps who asked for a session (their user id). */
export const REQUESTER = "requester";

/** Discord's code for a message that no longer exists (someone deleted the status message). */
const UNKNOWN_MESSAGE = 10008;

export interface DiscordOutboundDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  redis: Redis;
  redisPrefix: string;
  api: DiscordApi;
  publicUrl: string;
}

/** Performs one outbound job. A rate limit comes back as RetryLaterError, for the queue to delay it. */
export function createDiscordOutbound(deps: DiscordOutboundDeps) {
  /** The session's thread, when it is bound to one. */
  const threadOf = async (sessionId: string) => {
    const binding = await findBinding(deps.db, sessionId, PROVIDER);
    return binding ? parseThreadKey(binding.threadKey) : null;
  };
  const record = (sessionId: string, kind: string, target: string) => ({
    sessionId,
    provider: PROVIDER,
    kind,
    target,
  });

  /** Posts `message` once for `kind` (a retried job finds it recorded). */
  const postOnce = async (sessionId: string, threadId: string, kind: string, m: DiscordMessage) => {
    const key = record(sessionId, kind, threadId);
    if ((await outboundRecord.find(deps.db, key))?.externalId) return;
    const id = await deps.api.post(threadId, m);
    await outboundRecord.remember(deps.db, deps.clock, key, id);
  };

  /** Posts the status message the first time, then edits it in place (at most every 1.5 s). */
  const renderStatus = async (sessionId: string) => {
    const thread = await threadOf(sessionId);
    if (!thread) return;
    const view = await loadSessionStatus(deps.db, deps.clock, deps.publicUrl, sessionId);
    if (!view) return;
    const message = statusMessage(view);
    const key = record(sessionId, "status", thread.threadId);
    const row = await outboundRecord.find(deps.db, key);
    if (row?.externalId) {
      const sinceMs = deps.clock.now().getTime() - row.updatedAt.getTime();
      if (sinceMs < STATUS_EDIT_INTERVAL_MS)
        throw new RetryLaterError(STATUS_EDIT_INTERVAL_MS - sinceMs, "status edited just now");
      try {
        await deps.api.edit(thread.threadId, row.externalId, message);
        return outboundRecord.remember(deps.db, deps.clock, key, row.externalId);
      } catch (err) {
        if (!(err instanceof DiscordCallError && err.code === UNKNOWN_MESSAGE)) throw err;
        deps.logger.info({ sessionId }, "discord.status_message_gone");
      }
    }
    const id = await deps.api.post(thread.threadId, message);
    await outboundRecord.remember(deps.db, deps.clock, key, id);
  };

  const summarize = async (job: Extract<DiscordOutboundJob, { op: "summary" }>) => {
    const thread = await threadOf(job.sessionId);
    if (!thread) return;
    const session = await deps.db.query.sessions.findFirst({
      where: eq(schema.sessions.id, job.sessionId),
    });
    if (!session) return;
    const url = sessionUrl(deps.publicUrl, job.sessionId);
    if (job.status === "failed") {
      const requester = await outboundRecord.find(
        deps.db,
        record(job.sessionId, REQUESTER, `${thread.guildId}/${thread.threadId}`),
      );
      const reason = session.error ?? "the session failed";
      return postOnce(
        job.sessionId,
        thread.threadId,
        `failed-${job.seq}`,
        failureMessage(reason, url, requester?.externalId ?? undefined),
      );
    }
    const turn = await loadTurnResult(deps.db, job.sessionId, job.seq);
    const parts = summaryMessages(turn, {
      url,
      sessionId: job.sessionId,
      pullRequestUrl: session.pullRequestUrl,
    });
    for (const [i, part] of parts.entries())
      await postOnce(job.sessionId, thread.threadId, `summary-${job.seq}-${i}`, part);
  };

  return async function handle(job: DiscordOutboundJob, log: Logger): Promise<void> {
    switch (job.op) {
      case "status":
        return withRedisLock(
          deps.redis,
          `${deps.redisPrefix}:discord:status-lock:${job.sessionId}`,
          () => renderStatus(job.sessionId),
        );
      case "summary":
        return summarize(job);
      case "post":
        return void (await deps.api.post(job.channelId, job.message, job.replyTo));
      case "react":
        return deps.api.react(job.channelId, job.messageId, job.emoji).catch((err: Error) => {
          // A reaction is a courtesy: a message deleted meanwhile is no reason to retry.
          if (!(err instanceof DiscordCallError)) throw err;
          log.info({ err }, "discord.react_failed");
        });
      case "interaction":
        if (job.action === "edit")
          return void (await deps.api.editOriginal(job.token, job.message));
        return deps.api.followUp(job.token, job.message);
    }
  };
}
