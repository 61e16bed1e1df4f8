import type { Runtime } from "@tandem/core";

export interface RunningBot {
  providers: string[];
  close(): Promise<void>;
}

/**
 * Starts the long-lived provider connections (Slack Socket Mode, the Discord gateway). Webhook
 * providers need none: their routes live in the web app. No provider is wired in yet.
 */
export async function startBot(rt: Runtime): Promise<RunningBot> {
  const providers: string[] = [];
  rt.logger.info({ providers }, "bot.started");
  return { providers, close: async () => {} };
}
