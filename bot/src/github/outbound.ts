import type { Redis } from "ioredis";
import { and, desc, eq } from "drizzle-orm";
import {
  findBinding,
  loadTrackingSnapshot,
  renderTrackingComment,
  TRACKING_COMMENT,
  RetryLaterError,
  schema,
  sessionUrl,
  type Clock,
  type Db,
  type FileStat,
  type Logger,
  outboundRecord,
  withRedisLock,
} from "@tandem/core";
import { githubCall, type GitHubApp, type GitHubOctokit } from "./client.ts";
import { parseThreadKey, PROVIDER, splitRepo, STATUS_EDIT_INTERVAL_MS } from "./config.ts";
import { findGitHubInstallation } from "./installations.ts";
import type { GitHubOutboundJob } from "./outbox.ts";

export interface GitHubOutboundDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  redis: Redis;
  redisPrefix: string;
  github: GitHubApp;
  publicUrl: string;
}

/** Performs one outbound job: reactions, comments, the tracking comment, and the pull request. */
export function createGitHubOutbound(deps: GitHubOutboundDeps) {
  const { db } = deps;

  /** The session's issue/PR and a client for its installation; null when not bound to GitHub. */
  const threadOf = async (sessionId: string) => {
    const binding = await findBinding(db, sessionId, PROVIDER);
    if (!binding) return null;
    const thread = parseThreadKey(binding.threadKey);
    const [row] = await db
      .select({ installation: schema.installations.externalId })
      .from(schema.sessions)
      .innerJoin(schema.repositories, eq(schema.repositories.id, schema.sessions.repositoryId))
      .innerJoin(
        schema.installations,
        eq(schema.installations.id, schema.repositories.installationId),
      )
      .where(eq(schema.sessions.id, sessionId));
    if (!row)
      throw new Error(
        `session ${sessionId}: its repository is not reached through a GitHub installation`,
      );
    return {
      ...thread,
      key: binding.threadKey,
      octokit: await deps.github.installation(Number(row.installation)),
    };
  };

  const trackingKey = (sessionId: string, target: string) => ({
    sessionId,
    provider: PROVIDER,
    kind: TRACKING_COMMENT,
    target,
  });
  const stored = (sessionId: string, target: string) =>
    outboundRecord.find(db, trackingKey(sessionId, target));
  const remember = (sessionId: string, target: string, commentId: string) =>
    outboundRecord.remember(db, deps.clock, trackingKey(sessionId, target), commentId);

  /** One render per session at a time, across workers: the first comment must not be posted twice. */
  const withLock = (sessionId: string, fn: () => Promise<void>) =>
    withRedisLock(deps.redis, `${deps.redisPrefix}:github:tracking-lock:${sessionId}`, fn, {
      retryMs: 300,
      reason: "another worker is editing this comment",
    });

  /** Posts the tracking comment the first time, then edits it in place, at most once per interval (unless `final`). */
  const renderTracking = (sessionId: string, final: boolean) =>
    withLock(sessionId, async () => {
      const thread = await threadOf(sessionId);
      if (!thread) return;
      const snapshot = await loadTrackingSnapshot(db, deps.clock, deps.publicUrl, sessionId);
      if (!snapshot) return;
      const body = renderTrackingComment(snapshot);
      const { owner, repo } = thread;
      const row = await stored(sessionId, thread.key);
      if (row?.externalId) {
        const sinceMs = deps.clock.now().getTime() - row.updatedAt.getTime();
        if (!final && sinceMs < STATUS_EDIT_INTERVAL_MS)
          throw new RetryLaterError(
            STATUS_EDIT_INTERVAL_MS - sinceMs,
            "tracking comment edited moments ago",
          );
        await githubCall(() =>
          thread.octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", {
            owner,
            repo,
            comment_id: Number(row.externalId),
            body,
          }),
        );
        return remember(sessionId, thread.key, row.externalId);
      }
      const res = await githubCall(() =>
        thread.octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
          owner,
          repo,
          issue_number: thread.number,
          body,
        }),
      );
      await remember(sessionId, thread.key, String(res.data.id));
    });

  return async function handle(job: GitHubOutboundJob, log: Logger): Promise<void> {
    switch (job.op) {
      case "react": {
        const octokit = await clientFor(deps, job.installationId);
        const { owner, repo } = splitRepo(job.repo);
        const t = job.target;
        const route =
          t.kind === "issue_comment"
            ? "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
            : t.kind === "review_comment"
              ? "POST /repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions"
              : "POST /repos/{owner}/{repo}/issues/{issue_number}/reactions";
        const ids = t.kind === "issue" ? { issue_number: t.number } : { comment_id: t.id };
        await githubCall(() =>
          octokit.request(route, { owner, repo, ...ids, content: "eyes" } as never),
        );
        return;
      }
      case "comment": {
        const octokit = await clientFor(deps, job.installationId);
        const { owner, repo } = splitRepo(job.repo);
        await githubCall(() =>
          octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
            owner,
            repo,
            issue_number: job.number,
            body: job.body,
          }),
        );
        return;
      }
      case "review_reply": {
        const octokit = await clientFor(deps, job.installationId);
        const { owner, repo } = splitRepo(job.repo);
        await githubCall(() =>
          octokit.request(
            "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
            {
              owner,
              repo,
              pull_number: job.number,
              comment_id: job.commentId,
              body: job.body,
            },
          ),
        );
        return;
      }
      case "status":
        return renderTracking(job.sessionId, false);
      case "summary": {
        await ensurePullRequest(deps, job.sessionId, threadOf, log);
        return renderTracking(job.sessionId, true);
      }
    }
  };
}

async function clientFor(deps: GitHubOutboundDeps, installationId: number): Promise<GitHubOctokit> {
  if (!(await findGitHubInstallation(deps.db, installationId)))
    throw new Error(`unknown GitHub installation ${installationId}`);
  return deps.github.installation(installationId);
}

type ThreadOf = (
  sessionId: string,
) => Promise<{ owner: string; repo: string; number: number; octokit: GitHubOctokit } | null>;

/**
 * After a turn with changes: the work was pushed to the session branch (worker/src/sessions/publish.ts);
 * open its pull request, or refresh the body of the one already open. A session started on a pull
 * request pushes to that PR's branch, so there is nothing to open.
 */
async function ensurePullRequest(
  deps: GitHubOutboundDeps,
  sessionId: string,
  threadOf: ThreadOf,
  log: Logger,
) {
  const session = await deps.db.query.sessions.findFirst({
    where: eq(schema.sessions.id, sessionId),
  });
  if (!session || session.status !== "idle") return;
  const thread = await threadOf(sessionId);
  if (!thread) return;
  const issueTitle = session.prompt.match(/^(?:Issue|Pull request) #\d+: (.+)$/m)?.[1];
  await openOrRefresh(deps, session, thread.octokit, log, {
    title: `${issueTitle ?? session.prompt.split("\n")[0]!.slice(0, 70)} (#${thread.number})`,
    lead: `Resolves #${thread.number}`,
  });
}

type SessionRow = typeof schema.sessions.$inferSelect;

/** Opens the session branch's pull request on its repository, or refreshes the open one's body. */
async function openOrRefresh(
  deps: GitHubOutboundDeps,
  session: SessionRow,
  octokit: GitHubOctokit,
  log: Logger,
  text: { title: string; lead: string | null },
) {
  const { db } = deps;
  if (!session.branch || session.baseRef) return;
  const files = await latestDiff(db, session.id);
  if (!files || files.length === 0) return;
  const repoRow = await db.query.repositories.findFirst({
    where: eq(schema.repositories.id, session.repositoryId),
  });
  if (!repoRow) return;
  const { owner, repo } = splitRepo(repoRow.name);
  const url = sessionUrl(deps.publicUrl, session.id);
  const added = files.reduce((n, f) => n + f.added, 0);
  const removed = files.reduce((n, f) => n + f.removed, 0);
  const body = [
    ...(text.lead ? [text.lead, ""] : []),
    `Opened by Tandem · [View session](${url})`,
    "",
    `${files.length} file${files.length === 1 ? "" : "s"} changed (+${added} −${removed}):`,
    ...files.slice(0, 30).map((f) => `- \`${f.path}\` +${f.added} −${f.removed}`),
  ].join("\n");
  const open = await githubCall(() =>
    octokit.request("GET /repos/{owner}/{repo}/pulls", {
      owner,
      repo,
      head: `${owner}:${session.branch}`,
      state: "open",
      per_page: 1,
    }),
  );
  let prUrl: string;
  const existing = open.data[0];
  if (existing) {
    await githubCall(() =>
      octokit.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", {
        owner,
        repo,
        pull_number: existing.number,
        body,
      }),
    );
    prUrl = existing.html_url;
  } else {
    try {
      const created = await octokit.request("POST /repos/{owner}/{repo}/pulls", {
        owner,
        repo,
        title: text.title.slice(0, 120),
        head: session.branch,
        base: repoRow.defaultBranch,
        body,
      });
      prUrl = created.data.html_url;
    } catch (err) {
      // 422: nothing was pushed (the publish step failed and said so in the session); report without a PR.
      if ((err as { status?: number }).status === 422)
        return log.warn({ err, sessionId: session.id }, "github.pull_request_not_opened");
      throw err;
    }
    log.info({ sessionId: session.id, pullRequest: prUrl }, "github.pull_request_opened");
  }
  await db
    .update(schema.sessions)
    .set({ pullRequestUrl: prUrl })
    .where(eq(schema.sessions.id, session.id));
}

/**
 * Pull requests for sessions bound to another provider (a Linear issue) whose repository the
 * App's installation reaches: opened from the pushed branch right after the push, with a link
 * back to where the session came from.
 */
export function createPullRequestHost(deps: GitHubOutboundDeps) {
  return {
    hosts: (repo: { installationId: string | null }) => Boolean(repo.installationId),
    async open(sessionId: string, log: Logger) {
      const [row] = await deps.db
        .select({ session: schema.sessions, installation: schema.installations.externalId })
        .from(schema.sessions)
        .innerJoin(schema.repositories, eq(schema.repositories.id, schema.sessions.repositoryId))
        .innerJoin(
          schema.installations,
          eq(schema.installations.id, schema.repositories.installationId),
        )
        .where(eq(schema.sessions.id, sessionId));
      if (!row) return;
      const origin = await deps.db.query.sessionBindings.findFirst({
        where: eq(schema.sessionBindings.sessionId, sessionId),
      });
      const octokit = await deps.github.installation(Number(row.installation));
      await openOrRefresh(deps, row.session, octokit, log, {
        title:
          row.session.prompt
            .split("\n")[0]!
            .replace(/^@\S+\s*/, "")
            .slice(0, 100) || "Tandem changes",
        lead: origin?.url ? `For ${origin.url}` : null,
      });
    },
  };
}

async function latestDiff(db: Db, sessionId: string): Promise<FileStat[] | null> {
  const [row] = await db
    .select()
    .from(schema.sessionEvents)
    .where(
      and(
        eq(schema.sessionEvents.sessionId, sessionId),
        eq(schema.sessionEvents.type, "diff_stat"),
      ),
    )
    .orderBy(desc(schema.sessionEvents.seq))
    .limit(1);
  return row ? (row.data as { files: FileStat[] }).files : null;
}
