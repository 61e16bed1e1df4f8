import { DelayedError, type Job } from "bullmq";
import { RetryLaterError, type Logger } from "@tandem/core";

/**
 * Runs a job's work; "retry later" (a 429 with Retry-After, a busy message, an event that waits
 * for its companion) puts the job back, delayed, without spending an attempt. Other errors go to
 * BullMQ's retries as they are.
 */
export async function withRetryLater<T>(
  job: Job,
  token: string | undefined,
  log: Logger,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof RetryLaterError)) throw err;
    log.info(
      { retryAfterMs: err.retryAfterMs, reason: err.message, jobId: job.id },
      "job.retry_later",
    );
    await job.moveToDelayed(Date.now() + err.retryAfterMs, token);
    throw new DelayedError();
  }
}
