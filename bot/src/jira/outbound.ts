import type { Redis } from "ioredis";
import {
  findBinding,
  loadTrackingSnapshot,
  outboundRecord,
  renderTrackingComment,
  RetryLaterError,
  TRACKING_COMMENT,
  withRedisLock,
  type Clock,
  type Db,
  type Logger,
} from "@tandem/core";
import { markdownToAdf } from "./adf.ts";
import { jiraCall, type JiraSite } from "./client.ts";
import { issueKeyOf, PROVIDER, STATUS_EDIT_INTERVAL_MS, type JiraSettings } from "./config.ts";
import type { JiraOutboundJob } from "./outbox.ts";

export interface JiraOutboundDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  redis: Redis;
  redisPrefix: string;
  site: JiraSite;
  settings: JiraSettings;
}

/** Who asked for the session (their account id), recorded at start: the tracking comment mentions them. */
export const REQUESTER = "requester";

/** A mention in the Markdown Tandem writes; the ADF conversion makes it a mention node. */
const mention = (accountId: string) => `[~accountid:${accountId}]`;

/** A comment's ADF from Markdown, with the mentions Tandem put in (the agent's text cannot mention anyone). */
const adf = (markdown: string, mentionable: string[]) => markdownToAdf(markdown, { mentionable });

/** Performs one outbound job against the site's REST API (v3, bodies in ADF). */
export function createJiraOutbound(deps: JiraOutboundDeps) {
  const { db, site } = deps;
  const record = (sessionId: string, key: string, kind: string) => ({
    sessionId,
    provider: PROVIDER,
    kind,
    target: key,
  });

  /** One render per session at a time, across workers: the first comment must not be posted twice. */
  const withLock = (sessionId: string, fn: () => Promise<void>) =>
    withRedisLock(deps.redis, `${deps.redisPrefix}:jira:tracking-lock:${sessionId}`, fn, {
      retryMs: 300,
      reason: "another worker is editing this comment",
    });

  /** Creates the tracking comment the first time, then edits it, at most once per interval (unless `final`). */
  const renderTracking = (sessionId: string, final: boolean) =>
    withLock(sessionId, async () => {
      const binding = await findBinding(db, sessionId, PROVIDER);
      const issueKey = binding && issueKeyOf(deps.settings.site, binding.threadKey);
      if (!binding || !issueKey) return;
      const snapshot = await loadTrackingSnapshot(
        db,
        deps.clock,
        deps.settings.publicUrl,
        sessionId,
      );
      if (!snapshot) return;
      const requester = await outboundRecord.find(
        db,
        record(sessionId, binding.threadKey, REQUESTER),
      );
      const who = requester?.externalId ? [requester.externalId] : [];
      const markdown = [
        ...who.map((id) => `${mention(id)} `),
        renderTrackingComment(snapshot),
      ].join("");
      const body = adf(markdown, who);
      const key = record(sessionId, binding.threadKey, TRACKING_COMMENT);
      const row = await outboundRecord.find(db, key);
      if (row?.externalId) {
        const sinceMs = deps.clock.now().getTime() - row.updatedAt.getTime();
        if (!final && sinceMs < STATUS_EDIT_INTERVAL_MS)
          throw new RetryLaterError(
            STATUS_EDIT_INTERVAL_MS - sinceMs,
            "tracking comment edited moments ago",
          );
        await site.editComment(issueKey, row.externalId, body);
        return outboundRecord.remember(db, deps.clock, key, row.externalId);
      }
      const id = await site.addComment(issueKey, body);
      await outboundRecord.remember(db, deps.clock, key, id);
    });

  return async function handle(job: JiraOutboundJob, log: Logger): Promise<void> {
    switch (job.op) {
      case "comment": {
        const who = job.mention ? [job.mention] : [];
        const markdown = job.mention ? `${mention(job.mention)} ${job.body}` : job.body;
        await site.addComment(job.issueKey, adf(markdown, who));
        return;
      }
      case "status":
        return renderTracking(job.sessionId, false);
      case "summary":
        // The pull request, if any, was opened by the repository's host right after the push.
        return renderTracking(job.sessionId, true);
      case "start_progress":
        return startProgress(site, job.issueKey, log);
    }
  };
}

interface Transition {
  id: string;
  name: string;
  to?: { name?: string; statusCategory?: { key?: string } };
}

/**
 * Moves an issue still in a to-do status along the first transition to an in-progress one
 * (status category `indeterminate`); leaves one already started, done, or without such a
 * transition alone (workflows differ: nothing to move is not an error).
 */
async function startProgress(site: JiraSite, issueKey: string, log: Logger) {
  const issue = (await jiraCall(() => site.api.findIssue(issueKey, "", "status"))) as {
    fields?: { status?: { statusCategory?: { key?: string } } };
  };
  if (issue.fields?.status?.statusCategory?.key !== "new")
    return log.debug({ issueKey }, "jira.already_started");
  const { transitions } = (await jiraCall(() => site.api.listTransitions(issueKey))) as {
    transitions?: Transition[];
  };
  const next = (transitions ?? []).find((t) => t.to?.statusCategory?.key === "indeterminate");
  if (!next) return log.info({ issueKey }, "jira.no_in_progress_transition");
  await jiraCall(() => site.api.transitionIssue(issueKey, { transition: { id: next.id } }));
  log.info({ issueKey, transition: next.name }, "jira.moved_to_in_progress");
}
