import { App } from "@octokit/app";
import { Octokit } from "@octokit/core";
import { RetryLaterError, UnrecoverableError, type Clock, type Logger } from "@tandem/core";
import {
  SANDBOX_TOKEN_PERMISSIONS,
  TOKEN_REFRESH_MARGIN_MS,
  type GitHubSettings,
  type TokenPermissions,
} from "./config.ts";

export type GitHubOctokit = Octokit;

/** Octokit's chatter is debug; its warnings stay warnings. Never the request headers (tokens). */
const octokitLog = (log: Logger) => ({
  debug: (message: string) => log.debug({ github: message }, "github.sdk"),
  info: (message: string) => log.debug({ github: message }, "github.sdk"),
  warn: (message: string) => log.warn({ github: message }, "github.sdk"),
  error: (message: string) => log.error({ github: message }, "github.sdk"),
});

/**
 * Classifies a GitHub API failure once: rate limited (retry after), permanent (4xx), or transient
 * (rethrown as is, retried with backoff).
 */
export function classifyGitHubError(err: unknown): Error {
  const e = err as {
    status?: number;
    message?: string;
    response?: { headers?: Record<string, string | undefined> };
  };
  const status = typeof e?.status === "number" ? e.status : 0;
  const headers = e?.response?.headers ?? {};
  if (
    status === 429 ||
    (status === 403 && (headers["retry-after"] || headers["x-ratelimit-remaining"] === "0"))
  ) {
    const retryAfterS = Number(headers["retry-after"] ?? 60) || 60;
    return new RetryLaterError(
      retryAfterS * 1000,
      `GitHub rate limit: retry after ${retryAfterS} s`,
    );
  }
  if (status >= 400 && status < 500 && status !== 408)
    return new UnrecoverableError(`GitHub answered HTTP ${status}: ${e.message ?? ""}`);
  return err instanceof Error ? err : new Error(String(err));
}

export async function githubCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifyGitHubError(err);
  }
}

export interface InstallationToken {
  token: string;
  expiresAt: Date;
}

/**
 * The GitHub App: the app's own identity (JWT), a client per installation, and installation
 * tokens narrowed to some repositories and to `contents` + `pull_requests`, cached until close
 * to their expiry. The private key stays in this process.
 */
export class GitHubApp {
  readonly app: App;
  private identity?: Promise<{ slug: string; botLogin: string }>;
  private readonly tokens = new Map<string, InstallationToken>();

  constructor(
    private readonly settings: GitHubSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    const log = octokitLog(logger);
    this.app = new App({
      appId: settings.appId,
      privateKey: settings.privateKey,
      webhooks: { secret: settings.webhookSecret },
      Octokit: Octokit.defaults({ baseUrl: settings.apiUrl, log }),
      log,
    });
  }

  /** The App's slug (what people @mention) and its bot user's login (`<slug>[bot]`), asked once. */
  whoAmI(): Promise<{ slug: string; botLogin: string }> {
    this.identity ??= githubCall(() => this.app.octokit.request("GET /app"))
      .then((res) => {
        const slug = (res.data as { slug?: string } | null)?.slug ?? "";
        return { slug, botLogin: `${slug}[bot]` };
      })
      .catch((err) => {
        this.identity = undefined;
        throw err;
      });
    return this.identity;
  }

  /** A client acting as the installation (tokens minted and refreshed by @octokit/auth-app). */
  installation(installationId: number): Promise<GitHubOctokit> {
    return githubCall(
      () => this.app.getInstallationOctokit(installationId) as Promise<GitHubOctokit>,
    );
  }

  /** Verifies `X-Hub-Signature-256` on the exact bytes GitHub sent. */
  async verify(rawBody: string, signature: string | undefined): Promise<boolean> {
    if (!signature) return false;
    return this.app.webhooks.verify(rawBody, signature).catch(() => false);
  }

  /**
   * An installation token for a sandbox: only `repositories` (names without the owner), only
   * `permissions` (the git ones unless named). Reused until TOKEN_REFRESH_MARGIN_MS before it expires.
   */
  async sandboxToken(
    installationId: number,
    repositories: string[],
    permissions: TokenPermissions = SANDBOX_TOKEN_PERMISSIONS,
  ): Promise<InstallationToken> {
    const scope = Object.entries(permissions)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const key = `${installationId}:${[...repositories].sort().join(",")}:${scope}`;
    const now = this.clock.now().getTime();
    const hit = this.tokens.get(key);
    if (hit && hit.expiresAt.getTime() - now > TOKEN_REFRESH_MARGIN_MS) return hit;
    const res = await githubCall(() =>
      this.app.octokit.request("POST /app/installations/{installation_id}/access_tokens", {
        installation_id: installationId,
        repositories,
        permissions: { ...permissions },
      }),
    );
    const minted = { token: res.data.token, expiresAt: new Date(res.data.expires_at) };
    for (const [k, v] of this.tokens)
      if (v.expiresAt.getTime() - now <= TOKEN_REFRESH_MARGIN_MS) this.tokens.delete(k);
    this.tokens.set(key, minted);
    this.logger.info(
      { installationId, repositories, permissions, expiresAt: minted.expiresAt },
      "github.sandbox_token_minted",
    );
    return minted;
  }
}
