import { Writable } from "node:stream";
import { pino } from "pino";
import type { Logger } from "@tandem/core";

/** A logger at info that keeps each line it writes (pino's JSON) in `lines`, for tests to read. */
export function capturingLogger(lines: string[] = []): { logger: Logger; lines: string[] } {
  const logger = pino(
    { level: "info" },
    new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    }),
  ) as unknown as Logger;
  return { logger, lines };
}
