import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  type Logger as SlackLogger,
} from "@slack/web-api";
import { eq } from "drizzle-orm";
import {
  ensureDefaultOrganization,
  RetryLaterError,
  schema,
  UnrecoverableError,
  type Clock,
  type Db,
  type Logger,
} from "@tandem/core";
import type { SlackSettings } from "./config.ts";
import {
  findSlackInstallation,
  installationData,
  saveSlackInstallation,
  storedCredentials,
} from "./installations.ts";

/** Slack's SDKs log through this; their chatter is debug, their warnings stay warnings. */
export function slackLogger(log: Logger): SlackLogger {
  const text = (msg: unknown[]) =>
    msg
      .map((m) => (typeof m === "string" ? m : m instanceof Error ? m.message : JSON.stringify(m)))
      .join(" ");
  return {
    debug: (...msg) => log.debug({ slack: text(msg) }, "slack.sdk"),
    info: (...msg) => log.debug({ slack: text(msg) }, "slack.sdk"),
    warn: (...msg) => log.warn({ slack: text(msg) }, "slack.sdk"),
    error: (...msg) => log.error({ slack: text(msg) }, "slack.sdk"),
    setLevel: () => {},
    getLevel: () => LogLevel.DEBUG,
    setName: () => {},
  };
}

/**
 * A Web API client on SLACK_API_URL. It makes one attempt per call and hands a 429 back at once:
 * retries and Retry-After belong to the outbound queue, which keeps the job instead of a socket.
 */
function createWebClient(settings: SlackSettings, logger: Logger, token?: string): WebClient {
  return new WebClient(token, {
    slackApiUrl: settings.apiUrl,
    logger: slackLogger(logger),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 10_000,
  });
}

/** Platform errors that retrying cannot fix. */
const PERMANENT = new Set([
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "invalid_auth",
  "account_inactive",
  "token_revoked",
  "no_permission",
  "missing_scope",
  "message_not_found",
  "cant_update_message",
  "invalid_blocks",
  "msg_too_long",
  "already_reacted",
  "user_not_found",
  "not_authed",
]);

/** Slack answered 429: nothing more for this workspace until Retry-After has passed. */
export class SlackRateLimitedError extends RetryLaterError {
  constructor(retryAfterS: number) {
    super(retryAfterS * 1000, `Slack rate limit: retry after ${retryAfterS} s`);
  }
}

/** Classifies a Web API failure once: rate limited (retry after), permanent, or transient (rethrown as is). */
export function classifySlackError(err: unknown): Error {
  if (err instanceof WebAPIRateLimitedError) return new SlackRateLimitedError(err.retryAfter);
  if (err instanceof WebAPIPlatformError && PERMANENT.has(err.data.error))
    return new UnrecoverableError(`Slack: ${err.data.error}`);
  if (
    err instanceof WebAPIHTTPError &&
    err.statusCode >= 400 &&
    err.statusCode < 500 &&
    err.statusCode !== 408
  ) {
    return new UnrecoverableError(`Slack answered HTTP ${err.statusCode}`);
  }
  if (err instanceof WebAPIRequestError || err instanceof Error) return err;
  return new Error(String(err));
}

/** One workspace as Tandem sees it: the org it belongs to and a client acting as its bot. */
export interface SlackTeam {
  teamId: string;
  orgId: string;
  botUserId: string;
  client: WebClient;
}

const CACHE_MS = 60_000;

/**
 * Finds a workspace's org and bot token: an OAuth installation, or (single-workspace mode) the
 * workspace SLACK_BOT_TOKEN belongs to, which is recorded for the default org on first contact.
 */
export class SlackTeams {
  private readonly cache = new Map<string, { team: SlackTeam | null; until: number }>();
  private single?: Promise<{ teamId: string; botUserId: string; client: WebClient }>;

  constructor(
    private readonly deps: {
      db: Db;
      settings: SlackSettings;
      logger: Logger;
      clock: Clock;
      defaultOrgName: string;
    },
  ) {}

  async forTeam(teamId: string): Promise<SlackTeam | null> {
    const now = this.deps.clock.now().getTime();
    const hit = this.cache.get(teamId);
    if (hit && hit.until > now) return hit.team;
    const team = await this.load(teamId);
    this.cache.set(teamId, { team, until: now + CACHE_MS });
    return team;
  }

  private async load(teamId: string): Promise<SlackTeam | null> {
    const { db, settings, logger } = this.deps;
    const row = await findSlackInstallation(db, teamId);
    const credentials = row ? storedCredentials(settings.encryptionKey, row) : null;
    if (row && credentials) {
      const client = createWebClient(settings, logger, credentials.botToken);
      const botUserId = installationData(row).botUserId ?? (await client.auth.test()).user_id ?? "";
      return { teamId, orgId: row.orgId, botUserId, client };
    }
    if (!settings.botToken) return null;
    const single = await this.singleWorkspace();
    if (single.teamId !== teamId) return null;
    const orgId = row?.orgId ?? (await this.recordSingleWorkspace(teamId, single.botUserId));
    return { teamId, orgId, botUserId: single.botUserId, client: single.client };
  }

  /** Who SLACK_BOT_TOKEN is (auth.test), asked once. */
  private singleWorkspace() {
    this.single ??= (async () => {
      const client = createWebClient(
        this.deps.settings,
        this.deps.logger,
        this.deps.settings.botToken,
      );
      const auth = await client.auth.test();
      return { teamId: auth.team_id ?? "", botUserId: auth.user_id ?? "", client };
    })().catch((err) => {
      this.single = undefined;
      throw classifySlackError(err);
    });
    return this.single;
  }

  private async recordSingleWorkspace(teamId: string, botUserId: string): Promise<string> {
    const { db } = this.deps;
    const org =
      (await db.query.organizations.findFirst({
        where: eq(schema.organizations.isDefault, true),
      })) ?? (await ensureDefaultOrganization(db, this.deps.defaultOrgName)).org;
    await saveSlackInstallation(db, {
      orgId: org.id,
      teamId,
      data: { botUserId },
      credentialsEncrypted: null,
    });
    this.deps.logger.info({ teamId, orgId: org.id }, "slack.workspace_recorded");
    return org.id;
  }
}
