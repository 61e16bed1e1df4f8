import JiraApi from "jira-client";
import request from "postman-request";
import { and, eq } from "drizzle-orm";
import {
  installForDefaultOrg,
  RetryLaterError,
  schema,
  UnrecoverableError,
  type Db,
} from "@tandem/core";
import { adfToText, type AdfDoc } from "./adf.ts";
import { PROVIDER, type JiraSettings } from "./config.ts";

/** Why a call failed, as jira-client passes it on: it throws `new Error(JSON.stringify(reason))`. */
interface Failure {
  status: number;
  retryAfterSec: number | null;
  message: string;
}

/** Jira's error body (`errorMessages`, `errors` by field) as one line. */
function jiraMessage(body: unknown): string {
  if (typeof body === "string") return body.slice(0, 300);
  const b = (body ?? {}) as { errorMessages?: unknown; errors?: unknown };
  const messages = Array.isArray(b.errorMessages) ? b.errorMessages.map(String) : [];
  const fields =
    b.errors && typeof b.errors === "object"
      ? Object.entries(b.errors).map(([k, v]) => `${k}: ${String(v)}`)
      : [];
  return [...messages, ...fields].join("; ") || "no message";
}

/**
 * jira-client's transport (postman-request, as its own), except that a failure carries the
 * status and Retry-After: jira-client keeps only what the transport rejects with.
 */
function transport(options: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    request({ timeout: 15_000, ...options }, (err, res) => {
      if (err) return reject({ status: 0, retryAfterSec: null, message: err.message } as Failure);
      if (res.statusCode && res.statusCode >= 400) {
        const retryAfter = Number(res.headers["retry-after"]);
        return reject({
          status: res.statusCode,
          retryAfterSec: Number.isFinite(retryAfter) ? retryAfter : null,
          message: jiraMessage(res.body),
        } as Failure);
      }
      resolve(res.body);
    });
  });
}

/** A failed Jira call: its status (0 when Jira was not reached). */
class JiraError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "JiraError";
  }
}

/** A failure as the queues handle it: wait (rate limit, Jira busy), give up (refused), or retry. */
function classify(err: unknown): Error {
  let failure: Failure | null = null;
  try {
    failure = JSON.parse((err as Error).message) as Failure;
  } catch {
    // Not one of the transport's: a bug of ours or of jira-client's, as it is.
  }
  if (!failure || typeof failure.status !== "number")
    return err instanceof Error ? err : new Error(String(err));
  const { status, message } = failure;
  if (status === 429 || status === 503)
    return new RetryLaterError(
      Math.max(1, failure.retryAfterSec ?? 5) * 1000,
      `Jira asked Tandem to slow down (${status})`,
    );
  if (status === 401 || status === 403)
    return new UnrecoverableError(`Jira refused the agent's credentials (${status}): ${message}`);
  return new JiraError(status, `Jira answered ${status || "nothing"}: ${message}`);
}

/** Calls Jira; a failure comes back classified. */
export async function jiraCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classify(err);
  }
}

/** jira-client's comment calls, typed for REST v3 bodies (its types say wiki-markup strings). */
interface CommentCalls {
  addComment(issueKey: string, body: AdfDoc): Promise<{ id: string }>;
}

/** What the site's installation row keeps. */
export interface SiteData {
  baseUrl?: string;
  agent?: { accountId: string; displayName: string };
  /** Jira project key → the repository its issues work in when none is named. */
  projectRepositories?: Record<string, string>;
}

/**
 * The one Jira site Tandem is connected to (JIRA_BASE_URL), as the agent's account: the REST
 * client (v3), the agent's own account id, and the installation row that binds the site to an org.
 */
export class JiraSite {
  readonly api: JiraApi;
  private agentFound?: Promise<{ accountId: string; displayName: string }>;

  constructor(private readonly deps: { db: Db; settings: JiraSettings; defaultOrgName: string }) {
    const url = new URL(deps.settings.baseUrl);
    this.api = new JiraApi({
      protocol: url.protocol.replace(/:$/, ""),
      host: url.hostname,
      ...(url.port ? { port: url.port } : {}),
      base: url.pathname.replace(/\/+$/, ""),
      username: deps.settings.email,
      password: deps.settings.apiToken,
      apiVersion: "3",
      strictSSL: true,
      request: transport,
    });
  }

  /** Creates a comment (ADF); its id. */
  async addComment(issueKey: string, body: AdfDoc): Promise<string> {
    const created = await jiraCall(() =>
      (this.api as unknown as CommentCalls).addComment(issueKey, body),
    );
    return String(created.id);
  }

  /** Replaces a comment's body (ADF). */
  async editComment(issueKey: string, commentId: string, body: AdfDoc): Promise<void> {
    // jira-client sends `{ body: comment, ...options }`: the options' body is the ADF one.
    await jiraCall(() => this.api.updateComment(issueKey, commentId, "", { body }));
  }

  /** An issue's summary, description (as text) and project, as the agent reads them now. */
  async issue(
    issueKey: string,
  ): Promise<{ summary: string; description: string; projectKey: string | null }> {
    const found = (await jiraCall(() =>
      this.api.findIssue(issueKey, "", "summary,description,project"),
    )) as {
      fields?: { summary?: string; description?: unknown; project?: { key?: string } };
    };
    return {
      summary: found.fields?.summary ?? "",
      description: found.fields?.description ? adfToText(found.fields.description).trim() : "",
      projectKey: found.fields?.project?.key ?? null,
    };
  }

  /** The agent's account: JIRA_ACCOUNT_ID, else /myself, asked once (again after a failure). */
  agent(): Promise<{ accountId: string; displayName: string }> {
    if (!this.agentFound) {
      const configured = this.deps.settings.accountId;
      this.agentFound = jiraCall(async () => {
        const me = (await this.api.getCurrentUser()) as { accountId: string; displayName?: string };
        return { accountId: configured ?? me.accountId, displayName: me.displayName ?? "Tandem" };
      });
      this.agentFound.catch(() => (this.agentFound = undefined));
    }
    return this.agentFound;
  }

  private row() {
    return this.deps.db.query.installations.findFirst({
      where: and(
        eq(schema.installations.provider, PROVIDER),
        eq(schema.installations.externalId, this.deps.settings.site),
      ),
    });
  }

  /**
   * The site's installation row, which binds it to an org: recorded for the default org the
   * first time Tandem needs it (an instance is connected to one site, JIRA_BASE_URL).
   */
  async installation() {
    const found = await this.row();
    if (found) return found;
    return installForDefaultOrg(this.deps.db, this.deps.defaultOrgName, {
      provider: PROVIDER,
      externalId: this.deps.settings.site,
      data: { baseUrl: this.deps.settings.baseUrl } satisfies SiteData,
    });
  }

  async orgId(): Promise<string> {
    return (await this.installation()).orgId;
  }
}
