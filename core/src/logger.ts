import { pino, type Logger } from "pino";

export type { Logger };

/** Paths whose values never reach a log line. */
const REDACT = [
  "authorization",
  "token",
  "password",
  "secret",
  "apiKey",
  "*.authorization",
  "*.token",
  "*.password",
  "*.secret",
  "*.apiKey",
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "headers.cookie",
];

export function createLogger(opts: { level: string; service: string }): Logger {
  return pino({
    level: opts.level,
    base: { service: opts.service },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
