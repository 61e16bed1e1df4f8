import type { Job } from "bullmq";
import type { Logger } from "@tandem/core";
import { withRetryLater } from "./retry-later.ts";

/** Performs one outbound job for a provider (post, edit, react…). */
export type OutboundHandler = (data: unknown, log: Logger) => Promise<void>;

/**
 * Runs an outbound job with its provider's handler. "Retry later" (a 429 with Retry-After, a busy
 * message) puts the job back, delayed, without spending an attempt; other errors are retried with
 * backoff, except the ones the provider's adapter classified as permanent (UnrecoverableError).
 */
export async function processOutbound(
  handlers: Record<string, OutboundHandler>,
  logger: Logger,
  job: Job<{ provider?: string }>,
  token?: string,
): Promise<void> {
  const provider = job.data.provider ?? "";
  const handler = handlers[provider];
  const log = logger.child({ provider, jobId: job.id });
  if (!handler) return log.warn("outbound.no_handler");
  await withRetryLater(job, token, log, () => handler(job.data, log));
}
