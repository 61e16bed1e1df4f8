import type { Config } from "@tandem/core";

export const PROVIDER = "github";

/** The tracking comment is edited at most this often per session (GitHub's secondary rate limits). */
export const STATUS_EDIT_INTERVAL_MS = 2_000;
/** Installation tokens are reused until this close to their expiry. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;
/** What an installation token handed to a sandbox's git may do; nothing else. */
export const SANDBOX_TOKEN_PERMISSIONS = { contents: "write", pull_requests: "write" } as const;
/**
 * What the token the sandbox gateway puts on the agent's API calls may do: issues and pull
 * requests, but contents read only, so the API is no way around the git remote's branch rule.
 */
export const SANDBOX_API_TOKEN_PERMISSIONS = {
  contents: "read",
  issues: "write",
  pull_requests: "write",
} as const;

export type TokenPermissions = Readonly<Record<string, "read" | "write">>;

export interface GitHubSettings {
  appId: string;
  privateKey: string;
  webhookSecret: string;
  apiUrl: string;
  publicUrl: string;
  /** Lower-case logins; empty means anyone with write access. */
  allowedUsers: string[];
  /** The login (lower-case) whose assignment starts a session besides the App's bot, if any. */
  agentLogin?: string;
}

/** GitHub's settings, or null when the App is not configured (needs the id, key and webhook secret). */
export function githubSettings(config: Config): GitHubSettings | null {
  if (!config.GITHUB_APP_ID || !config.GITHUB_PRIVATE_KEY || !config.GITHUB_WEBHOOK_SECRET)
    return null;
  return {
    appId: config.GITHUB_APP_ID,
    // .env files often carry the PEM on one line with literal \n.
    privateKey: config.GITHUB_PRIVATE_KEY.replace(/\\n/g, "\n"),
    webhookSecret: config.GITHUB_WEBHOOK_SECRET,
    apiUrl: config.GITHUB_API_URL.replace(/\/$/, ""),
    publicUrl: config.PUBLIC_URL.replace(/\/$/, ""),
    allowedUsers: (config.GITHUB_ALLOWED_USERS ?? "")
      .split(",")
      .map((u) => u.trim().toLowerCase())
      .filter(Boolean),
    agentLogin: config.GITHUB_AGENT_LOGIN?.trim().toLowerCase() || undefined,
  };
}

/** `<owner>/<repo>#<number>`: one issue or pull request, the key of its session binding. */
export const threadKey = (repoFullName: string, number: number) => `${repoFullName}#${number}`;

export function parseThreadKey(key: string): {
  owner: string;
  repo: string;
  fullName: string;
  number: number;
} {
  const m = key.match(/^([^/#]+)\/([^/#]+)#(\d+)$/);
  if (!m) throw new Error(`not a GitHub thread key: ${key}`);
  return { owner: m[1]!, repo: m[2]!, fullName: `${m[1]}/${m[2]}`, number: Number(m[3]) };
}

export const splitRepo = (fullName: string) => {
  const [owner = "", repo = ""] = fullName.split("/");
  return { owner, repo };
};
