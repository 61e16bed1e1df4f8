import type { Config } from "@tandem/core";

export const PROVIDER = "jira";

export interface JiraSettings {
  /** The site, without a trailing slash (https://acme.atlassian.net). */
  baseUrl: string;
  /** The site's host: the installation's external id and the first part of every thread key. */
  site: string;
  email: string;
  apiToken: string;
  webhookSecret: string;
  /** The agent's account id when configured; otherwise read once from /myself. */
  accountId?: string;
  triggerLabel: string;
  moveToInProgress: boolean;
  publicUrl: string;
}

/**
 * Jira as a place sessions start from: the site, the agent's account (Basic auth) and the admin
 * webhook's secret. Null without them (the gateway's pass-through needs only the credentials).
 */
export function jiraSettings(config: Config): JiraSettings | null {
  const { JIRA_BASE_URL: base, JIRA_EMAIL: email, JIRA_API_TOKEN: apiToken } = config;
  if (!base || !email || !apiToken || !config.JIRA_WEBHOOK_SECRET) return null;
  const baseUrl = base.replace(/\/+$/, "");
  return {
    baseUrl,
    site: new URL(baseUrl).host.toLowerCase(),
    email,
    apiToken,
    webhookSecret: config.JIRA_WEBHOOK_SECRET,
    ...(config.JIRA_ACCOUNT_ID ? { accountId: config.JIRA_ACCOUNT_ID } : {}),
    triggerLabel: config.JIRA_TRIGGER_LABEL,
    moveToInProgress: config.JIRA_MOVE_TO_IN_PROGRESS,
    publicUrl: config.PUBLIC_URL.replace(/\/$/, ""),
  };
}

/** A binding's thread key: the site and the issue key ("acme.atlassian.net/ENG-12"). */
export const threadKey = (site: string, issueKey: string) => `${site}/${issueKey}`;

/** The issue key of a thread key, when it is this site's. */
export function issueKeyOf(site: string, key: string): string | null {
  const prefix = `${site}/`;
  return key.startsWith(prefix) ? key.slice(prefix.length) : null;
}

/** The tracking comment is edited at most this often (Jira Cloud's rate limits are per user). */
export const STATUS_EDIT_INTERVAL_MS = 2_000;
