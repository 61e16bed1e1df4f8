import type { Config } from "@tandem/core";

export const PROVIDER = "linear";

export interface LinearSettings {
  apiUrl: string;
  apiKey: string;
  webhookSecret: string;
  publicUrl: string;
  /** Move an issue not yet started to its team's first `started` state when work begins. */
  moveToStarted: boolean;
}

/**
 * Linear as a place sessions start from: the webhook's signing secret and a credential to answer
 * with (LINEAR_API_KEY, one workspace). Null without both (the gateway's pass-through needs only
 * the key).
 */
export function linearSettings(config: Config): LinearSettings | null {
  if (!config.LINEAR_WEBHOOK_SECRET || !config.LINEAR_API_KEY) return null;
  return {
    apiUrl: config.LINEAR_API_URL,
    apiKey: config.LINEAR_API_KEY,
    webhookSecret: config.LINEAR_WEBHOOK_SECRET,
    publicUrl: config.PUBLIC_URL.replace(/\/$/, ""),
    moveToStarted: config.LINEAR_MOVE_TO_STARTED,
  };
}
