import type { Redis } from "ioredis";
import { eq } from "drizzle-orm";
import {
  findBinding,
  RetryLaterError,
  schema,
  sessionUrl,
  type Clock,
  type Db,
  type Logger,
  withRedisLock,
} from "@tandem/core";
import { SlackRateLimitedError, type SlackTeams } from "./client.ts";
import { parseThreadKey, PROVIDER } from "./config.ts";
import type { SlackOutboundJob } from "./outbox.ts";
import { slackCall, SlackReporter } from "./reporter.ts";
import { loadStatusSnapshot, loadTurnSummary } from "./snapshot.ts";

export interface SlackOutboundDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  redis: Redis;
  redisPrefix: string;
  teams: SlackTeams;
  publicUrl: string;
}

/** Performs one outbound job. A rate limit comes back as RetryLaterError, for the queue to delay the job. */
export function createSlackOutbound(deps: SlackOutboundDeps) {
  const pauseKey = (teamId: string) => `${deps.redisPrefix}:slack:paused:${teamId}`;
  /** The team a job acts for, once known: a 429 pauses that workspace. */
  type Ctx = { teamId?: string };

  /** The team's client; while Slack has asked the workspace to slow down, every job waits. */
  const teamOrThrow = async (teamId: string, ctx: Ctx) => {
    ctx.teamId = teamId;
    const pausedMs = await deps.redis.pttl(pauseKey(teamId));
    if (pausedMs > 0)
      throw new RetryLaterError(pausedMs, "Slack asked this workspace to slow down");
    const team = await deps.teams.forTeam(teamId);
    if (!team) throw new Error(`no Slack installation for team ${teamId}`);
    return team;
  };

  /** The session's thread and a reporter for it; null when the session is not bound to Slack. */
  const reporterFor = async (sessionId: string, ctx: Ctx) => {
    const binding = await findBinding(deps.db, sessionId, PROVIDER);
    if (!binding) return null;
    const thread = parseThreadKey(binding.threadKey);
    const team = await teamOrThrow(thread.teamId, ctx);
    return new SlackReporter(
      { db: deps.db, clock: deps.clock, client: team.client },
      sessionId,
      thread,
    );
  };

  /** One status render per session at a time, across workers: the first post must not happen twice. */
  const withStatusLock = (sessionId: string, fn: () => Promise<void>) =>
    withRedisLock(deps.redis, `${deps.redisPrefix}:slack:status-lock:${sessionId}`, fn);

  return async function handle(job: SlackOutboundJob): Promise<void> {
    const ctx: Ctx = {};
    try {
      await perform(job, ctx);
    } catch (err) {
      if (err instanceof SlackRateLimitedError && ctx.teamId) {
        await deps.redis.set(pauseKey(ctx.teamId), "1", "PX", Math.max(1, err.retryAfterMs));
      }
      throw err;
    }
  };

  async function perform(job: SlackOutboundJob, ctx: Ctx): Promise<void> {
    switch (job.op) {
      case "react": {
        const team = await teamOrThrow(job.teamId, ctx);
        return SlackReporter.acknowledge(team.client, job.channel, job.ts);
      }
      case "post": {
        const { client } = await teamOrThrow(job.teamId, ctx);
        if (job.ephemeralUser) {
          await slackCall(() =>
            client.chat.postEphemeral({
              channel: job.channel,
              user: job.ephemeralUser!,
              thread_ts: job.threadTs,
              ...job.message,
            }),
          );
        } else {
          await slackCall(() =>
            client.chat.postMessage({
              channel: job.channel,
              thread_ts: job.threadTs,
              unfurl_links: false,
              ...job.message,
            }),
          );
        }
        return;
      }
      case "update": {
        const { client } = await teamOrThrow(job.teamId, ctx);
        await slackCall(() =>
          client.chat.update({ channel: job.channel, ts: job.ts, ...job.message }),
        );
        return;
      }
      case "status": {
        const reporter = await reporterFor(job.sessionId, ctx);
        if (!reporter) return;
        return withStatusLock(job.sessionId, async () => {
          const snapshot = await loadStatusSnapshot(
            deps.db,
            deps.clock,
            deps.publicUrl,
            job.sessionId,
          );
          if (snapshot) await reporter.progress(snapshot);
        });
      }
      case "summary": {
        const reporter = await reporterFor(job.sessionId, ctx);
        if (!reporter) return;
        if (job.status === "failed") {
          const session = await deps.db.query.sessions.findFirst({
            where: eq(schema.sessions.id, job.sessionId),
          });
          const reason = session?.error ?? "the session failed";
          return reporter.fail(job.seq, reason, sessionUrl(deps.publicUrl, job.sessionId));
        }
        const summary = await loadTurnSummary(deps.db, deps.publicUrl, job.sessionId, job.seq);
        if (summary) await reporter.complete(job.seq, summary);
        return;
      }
    }
  }
}
