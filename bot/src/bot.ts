import type { ChatProvider, ProviderConnection, Runtime } from "@tandem/core";

export interface RunningBot {
  /** The providers whose long-lived connection is open. */
  providers: string[];
  close(): Promise<void>;
}

/**
 * Opens the providers' long-lived connections (Slack Socket Mode when SLACK_APP_TOKEN is set).
 * Webhook providers need none: their routes live in the web app.
 */
export async function startBot(
  rt: Runtime,
  providers: readonly ChatProvider[],
): Promise<RunningBot> {
  const open: Array<{ name: string; connection: ProviderConnection }> = [];
  for (const provider of providers) {
    const connection = await provider.connect?.();
    if (connection) open.push({ name: provider.name, connection });
  }
  const names = open.map((o) => o.name);
  rt.logger.info({ providers: names }, "bot.started");
  return {
    providers: names,
    close: async () => {
      for (const { name, connection } of open)
        await connection
          .close()
          .catch((err) => rt.logger.warn({ err, provider: name }, "bot.close_failed"));
    },
  };
}
