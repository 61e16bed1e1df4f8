import { findBinding, type Config, type Db } from "@tandem/core";
import { parseThreadKey, PROVIDER } from "./config.ts";
import { findSlackInstallation, storedCredentials } from "./installations.ts";

/** The bot token the sandbox gateway puts on a session's Slack Web API calls; null without one. */
export type SlackSessionToken = (grant: {
  orgId: string;
  sessionId: string;
}) => Promise<string | null>;

/**
 * The bot token of the workspace the session came from (its OAuth installation, when it belongs
 * to the session's org), else SLACK_BOT_TOKEN (single-workspace mode). Null when Slack has no
 * token at all.
 */
export function slackSessionToken(deps: { config: Config; db: Db }): SlackSessionToken | null {
  const { config, db } = deps;
  if (!config.SLACK_BOT_TOKEN && !(config.SLACK_CLIENT_ID && config.SLACK_CLIENT_SECRET))
    return null;
  return async (grant) => {
    const binding = await findBinding(db, grant.sessionId, PROVIDER);
    const row = binding
      ? await findSlackInstallation(db, parseThreadKey(binding.threadKey).teamId)
      : null;
    const credentials =
      row && row.orgId === grant.orgId ? storedCredentials(config.ENCRYPTION_KEY, row) : null;
    return credentials?.botToken ?? config.SLACK_BOT_TOKEN ?? null;
  };
}
