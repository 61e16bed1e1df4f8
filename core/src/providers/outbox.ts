import type { Queue } from "bullmq";
import type { Clock } from "../clock.ts";
import { coalescingWindow } from "../queue/queues.ts";

/** What every provider's outbound job carries besides its own fields. */
export interface OutboundJobBase {
  provider: string;
  op: string;
}

/** A provider's job without the `provider` field the outbox adds. */
export type OutboundBody<J extends OutboundJobBase> = J extends unknown
  ? Omit<J, "provider">
  : never;

export interface ProviderOutboxOptions {
  /** The provider's name: the job's `provider` (the worker routes by it) and its id's prefix. */
  provider: string;
  /** The status message is edited at most once per this window (a provider's rate limit). */
  statusIntervalMs: number;
  /** Tries per job for errors that are not "retry later"; 1 by default. */
  attempts?: number;
}

/**
 * A provider's side of the outbound queue: every write to the provider goes through it, so a
 * rate limit delays a message instead of losing it. Jobs are idempotent by key (a retried
 * delivery, two workers following the same event, post once); the worker hands each to the
 * provider's `outbound`. `outbound_messages` records what was posted (see `outboundRecord`).
 */
export class ProviderOutbox<J extends OutboundJobBase> {
  constructor(
    private readonly queue: Queue,
    private readonly clock: Clock,
    private readonly opts: ProviderOutboxOptions,
  ) {}

  /** `key` makes the job idempotent: the same op and key twice is one job. */
  async send(job: OutboundBody<J>, key: string, delayMs = 0): Promise<void> {
    const attempts = this.opts.attempts ?? 1;
    await this.queue.add(
      this.opts.provider,
      { provider: this.opts.provider, ...job },
      {
        // BullMQ job ids may not contain ":"; thread keys hold ":", "/" and "#".
        jobId: [this.opts.provider, job.op, key].join("-").replace(/[:/#]/g, "_"),
        delay: delayMs,
        removeOnComplete: { age: 3_600 },
        removeOnFail: { age: 24 * 3_600 },
        ...(attempts > 1 ? { attempts, backoff: { type: "exponential", delay: 1_000 } } : {}),
      },
    );
  }

  /** Every provider's job union has `{op: "status", sessionId}`, the render of its status message. */
  private status(sessionId: string) {
    return { op: "status", sessionId } as unknown as OutboundBody<J>;
  }

  /** Renders the status message now (a session just started, a button was pressed). */
  statusNow(sessionId: string, key: string) {
    return this.send(this.status(sessionId), `${sessionId}-${key}`);
  }

  /**
   * Renders the status message at the end of the current window: every event of the window
   * shares one job (same id), which reads the state when it runs, so edits stay within the limit.
   */
  statusSoon(sessionId: string) {
    const { window, delayMs } = coalescingWindow(
      this.clock.now().getTime(),
      this.opts.statusIntervalMs,
    );
    return this.send(this.status(sessionId), `${sessionId}-w${window}`, delayMs);
  }
}
