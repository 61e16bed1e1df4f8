import { config as loadDotenv } from "dotenv";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { AppError } from "./errors.ts";

/** For entry points only: reads `.env` (if any) and the environment, or exits naming every bad variable. */
export function loadConfigOrExit(): Config {
  loadDotenv({ quiet: true });
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`tandem: ${problem}\n`);
    process.exit(1);
  }
}

/** Stops on SIGINT/SIGTERM, closing what was opened; a start-up failure exits with its message. */
export function runMain(main: () => Promise<() => Promise<void>>): void {
  main().then(
    (close) => {
      const stop = () => {
        void close().finally(() => process.exit(0));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    },
    (err) => {
      const message =
        err instanceof AppError ? err.message : ((err as Error)?.stack ?? String(err));
      process.stderr.write(`tandem: ${message}\n`);
      process.exit(1);
    },
  );
}
