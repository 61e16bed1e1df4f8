import type { Config } from "@tandem/core";

export const PROVIDER = "linear";

export interface LinearSettings {
  apiUrl: string;
  /** One workspace's key (bound to the default org); absent when the OAuth app is the only way in. */
  apiKey?: string;
  oauth?: {
    clientId: string;
    clientSecret: string;
    authorizeUrl: string;
    /** Linear's token endpoint, beside the API (https://api.linear.app/oauth/token). */
    tokenUrl: string;
  };
  encryptionKey?: string;
  webhookSecret: string;
  publicUrl: string;
  /** Move an issue not yet started to its team's first `started` state when work begins. */
  moveToStarted: boolean;
}

/**
 * Linear as a place sessions start from: the webhook's signing secret and a credential to answer
 * with: LINEAR_API_KEY (one workspace) or the OAuth app (each workspace that installs it). Null
 * without them (the gateway's pass-through needs only the key).
 */
export function linearSettings(config: Config): LinearSettings | null {
  const oauth =
    config.LINEAR_CLIENT_ID && config.LINEAR_CLIENT_SECRET
      ? {
          clientId: config.LINEAR_CLIENT_ID,
          clientSecret: config.LINEAR_CLIENT_SECRET,
          authorizeUrl: config.LINEAR_AUTHORIZE_URL,
          tokenUrl: new URL("/oauth/token", config.LINEAR_API_URL).toString(),
        }
      : undefined;
  if (!config.LINEAR_WEBHOOK_SECRET || (!config.LINEAR_API_KEY && !oauth)) return null;
  return {
    apiUrl: config.LINEAR_API_URL,
    ...(config.LINEAR_API_KEY ? { apiKey: config.LINEAR_API_KEY } : {}),
    ...(oauth ? { oauth } : {}),
    encryptionKey: config.ENCRYPTION_KEY,
    webhookSecret: config.LINEAR_WEBHOOK_SECRET,
    publicUrl: config.PUBLIC_URL.replace(/\/$/, ""),
    moveToStarted: config.LINEAR_MOVE_TO_STARTED,
  };
}

/** What the OAuth app asks for: read and write, and to be assigned and mentioned as an agent. */
export const OAUTH_SCOPES = ["read", "write", "app:assignable", "app:mentionable"];
