import type { Runtime } from "@tandem/core";
import { startSlackSocketMode } from "./slack/index.ts";

export interface RunningBot {
  providers: string[];
  close(): Promise<void>;
}

/**
 * Starts the long-lived provider connections: Slack Socket Mode when SLACK_APP_TOKEN is set
 * (later the Discord gateway). Webhook providers need none: their routes live in the web app.
 */
export async function startBot(rt: Runtime): Promise<RunningBot> {
  const providers: string[] = [];
  const connections: Array<{ close(): Promise<void> }> = [];
  const slack = await startSlackSocketMode(rt);
  if (slack) {
    providers.push("slack");
    connections.push(slack);
  }
  rt.logger.info({ providers }, "bot.started");
  return {
    providers,
    close: async () => {
      for (const c of connections)
        await c.close().catch((err) => rt.logger.warn({ err }, "bot.close_failed"));
    },
  };
}
