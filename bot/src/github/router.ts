import { and, eq } from "drizzle-orm";
import {
  addMessage,
  AppError,
  createSession,
  findBoundSession,
  isTerminal,
  schema,
  sessionUrl,
  stopSession,
  type Db,
  type InboundEvent,
  type Logger,
  type Repository,
  type SessionDeps,
} from "@tandem/core";
import { classifyGitHubError, githubCall, type GitHubApp, type GitHubOctokit } from "./client.ts";
import { PROVIDER, splitRepo, threadKey, type GitHubSettings } from "./config.ts";
import {
  findGitHubInstallation,
  recordInstallation,
  removeInstallation,
  syncInstallationRepositories,
  type InstallationRow,
} from "./installations.ts";
import type { GitHubOutbox } from "./outbox.ts";
import {
  asksForFreshStart,
  asksToStop,
  buildPrompt,
  toTrigger,
  type GitHubRequest,
  type GitHubTrigger,
  type StoredDelivery,
} from "./trigger-source.ts";

export interface GitHubRouterDeps extends SessionDeps {
  defaultOrgName: string;
  settings: GitHubSettings;
  github: GitHubApp;
  outbox: GitHubOutbox;
}

const WRITE = new Set(["admin", "maintain", "write"]);

/**
 * The `github` inbound handler (worker): a committed delivery becomes a new session, a follow-up,
 * a refusal, an installation sync, or nothing.
 */
export function createGitHubRouter(deps: GitHubRouterDeps) {
  return async (event: InboundEvent, log: Logger): Promise<void> => {
    const trigger = toTrigger(event.payload as StoredDelivery, {
      ...(await deps.github.whoAmI()),
      agentLogin: deps.settings.agentLogin,
    });
    if (trigger.type === "ignore") return log.debug({ reason: trigger.reason }, "github.ignored");
    if (trigger.type === "installation") return onInstallation(deps, trigger, log);
    return onRequest(
      deps,
      trigger,
      event.id,
      log.child({ repo: trigger.repo, number: trigger.number }),
    );
  };
}

async function onInstallation(
  deps: GitHubRouterDeps,
  t: Extract<GitHubTrigger, { type: "installation" }>,
  log: Logger,
) {
  if (t.action === "deleted") {
    await removeInstallation(deps.db, t.installationId);
    return log.info({ installationId: t.installationId }, "github.uninstalled");
  }
  if (t.action === "suspend")
    return log.info({ installationId: t.installationId }, "github.suspended");
  const row = await recordInstallation(deps.db, {
    installationId: t.installationId,
    account: t.account,
    defaultOrgName: deps.defaultOrgName,
  });
  await syncInstallationRepositories(deps, row);
}

/** The installation's row, recorded (and its repositories synced) if Tandem never saw it installed. */
async function installationOrRecord(
  deps: GitHubRouterDeps,
  installationId: number,
): Promise<InstallationRow> {
  const found = await findGitHubInstallation(deps.db, installationId);
  if (found) return found;
  const row = await recordInstallation(deps.db, {
    installationId,
    defaultOrgName: deps.defaultOrgName,
  });
  await syncInstallationRepositories(deps, row);
  return row;
}

async function findRepo(db: Db, orgId: string, name: string): Promise<Repository | null> {
  return (
    (await db.query.repositories.findFirst({
      where: and(eq(schema.repositories.orgId, orgId), eq(schema.repositories.name, name)),
    })) ?? null
  );
}

/** Write access to the repository (and, when GITHUB_ALLOWED_USERS is set, being on it). */
async function mayStart(
  deps: GitHubRouterDeps,
  octokit: GitHubOctokit,
  repo: string,
  login: string,
): Promise<boolean> {
  if (
    deps.settings.allowedUsers.length > 0 &&
    !deps.settings.allowedUsers.includes(login.toLowerCase())
  )
    return false;
  const { owner, repo: name } = splitRepo(repo);
  try {
    const res = await octokit.request(
      "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
      { owner, repo: name, username: login },
    );
    const data = res.data as { permission?: string; role_name?: string };
    return WRITE.has(data.permission ?? "") || WRITE.has(data.role_name ?? "");
  } catch (err) {
    if ((err as { status?: number }).status === 404) return false; // not a collaborator
    throw classifyGitHubError(err);
  }
}

async function onRequest(deps: GitHubRouterDeps, req: GitHubRequest, eventId: string, log: Logger) {
  const installation = await installationOrRecord(deps, req.installationId);
  let repo = await findRepo(deps.db, installation.orgId, req.repo);
  if (!repo) {
    await syncInstallationRepositories(deps, installation);
    repo = await findRepo(deps.db, installation.orgId, req.repo);
  }
  if (!repo) return log.warn({ installationId: req.installationId }, "github.unknown_repository");
  const octokit = await deps.github.installation(req.installationId);
  const reply = (body: string, key: string) =>
    deps.outbox.send(
      {
        op: "comment",
        installationId: req.installationId,
        repo: req.repo,
        number: req.number,
        body,
      },
      key,
    );

  if (!(await mayStart(deps, octokit, req.repo, req.sender))) {
    log.info({ sender: req.sender }, "github.request_refused");
    return reply(
      `@${req.sender} Thanks for asking! I can only take requests from people with write access to this repository, ` +
        `so I have not started anything. A maintainer can mention me to get it going. · [Tandem](${deps.publicUrl})`,
      `refused-${eventId}`,
    );
  }

  const react = () =>
    deps.outbox.send(
      { op: "react", installationId: req.installationId, repo: req.repo, target: req.reactTo },
      `react-${eventId}`,
    );
  /** A review comment is answered in its own thread too, where the person is looking. */
  const replyInReviewThread = (sessionId: string, what: string) =>
    req.reactTo.kind !== "review_comment"
      ? undefined
      : deps.outbox.send(
          {
            op: "review_reply",
            installationId: req.installationId,
            repo: req.repo,
            number: req.number,
            commentId: req.reactTo.id,
            body: `${what} · [View session](${sessionUrl(deps.publicUrl, sessionId)})`,
          },
          `review-reply-${eventId}`,
        );
  const key = threadKey(req.repo, req.number);
  const bound = await findBoundSession(deps.db, PROVIDER, key);
  if (asksToStop(req.text)) {
    if (!bound || isTerminal(bound.status))
      return reply(
        `@${req.sender} Nothing is running here to stop. · [Tandem](${deps.publicUrl})`,
        `stop-none-${eventId}`,
      );
    // The tracking comment turns to Stopped when the status event reaches the follower.
    await stopSession(deps, bound.orgId, bound.id, `stopped from GitHub by @${req.sender}`);
    await react();
    return log.info({ sessionId: bound.id, sender: req.sender }, "github.stopped");
  }
  if (bound && !isTerminal(bound.status)) {
    await react();
    const text = req.reactTo.kind === "review_comment" ? buildPrompt(req) : req.text || "Continue.";
    await addMessage(deps, { orgId: bound.orgId, sessionId: bound.id, text, source: PROVIDER });
    await replyInReviewThread(bound.id, "Passed on to the session working on this pull request");
    await deps.outbox.statusNow(bound.id, `follow-${eventId}`);
    return log.info({ sessionId: bound.id }, "github.follow_up");
  }
  if (bound && !asksForFreshStart(req.text)) {
    return reply(
      `@${req.sender} This session has ${bound.status === "failed" ? "failed" : "ended"}. Mention me with "new session" to start a fresh one here. ` +
        `· [View session](${sessionUrl(deps.publicUrl, bound.id)})`,
      `ended-${eventId}`,
    );
  }

  let ref: string | undefined;
  let pullRequestUrl: string | undefined;
  if (req.isPullRequest) {
    const { owner, repo: name } = splitRepo(req.repo);
    const pr = (
      await githubCall(() =>
        octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", {
          owner,
          repo: name,
          pull_number: req.number,
        }),
      )
    ).data;
    // Work on the PR's own branch; a fork's branch is read from GitHub's pull ref and left alone.
    const sameRepo = (pr.head.repo?.full_name ?? req.repo) === req.repo;
    ref = sameRepo ? pr.head.ref : `refs/pull/${req.number}/head`;
    pullRequestUrl = sameRepo ? pr.html_url : undefined;
  }
  let session;
  try {
    session = await createSession(deps, {
      orgId: installation.orgId,
      repository: repo.name,
      prompt: buildPrompt(req),
      source: PROVIDER,
      ref,
      binding: { provider: PROVIDER, threadKey: key },
      pullRequestUrl,
    });
  } catch (err) {
    // The profile cannot start sessions (no ready snapshot, inactive): say why, start nothing.
    if (!(err instanceof AppError) || err.status !== 409) throw err;
    log.info({ reason: err.message }, "github.profile_unavailable");
    return reply(
      `@${req.sender} I can't start a session yet: ${err.message}. An admin can fix that on the Profiles page. · [Tandem](${deps.publicUrl})`,
      `unavailable-${eventId}`,
    );
  }
  await react();
  await replyInReviewThread(session.id, "On it: a session is working on this");
  await deps.outbox.statusNow(session.id, "start");
  log.info({ sessionId: session.id, repository: repo.name, ref }, "github.session_started");
}
