import type { Queue } from "bullmq";
import { coalescingWindow, type Clock } from "@tandem/core";
import type { SlackMessage } from "./blocks.ts";
import { STATUS_EDIT_INTERVAL_MS } from "./config.ts";

/** Work for the outbound queue; every Slack write goes through it, so 429s delay it instead of losing it. */
export type SlackOutboundJob =
  | { provider: "slack"; op: "react"; teamId: string; channel: string; ts: string }
  | { provider: "slack"; op: "status"; sessionId: string }
  | { provider: "slack"; op: "summary"; sessionId: string; seq: number; status: "idle" | "failed" }
  | {
      provider: "slack";
      op: "post";
      teamId: string;
      channel: string;
      threadTs?: string;
      message: SlackMessage;
      /** Only this person sees it (chat.postEphemeral). */
      ephemeralUser?: string;
    }
  | {
      provider: "slack";
      op: "update";
      teamId: string;
      channel: string;
      ts: string;
      message: SlackMessage;
    };

type Body<T> = T extends unknown ? Omit<T, "provider"> : never;

/** BullMQ job ids may not contain ":"; Slack ids and timestamps never do. */
const jobId = (...parts: string[]) => ["slack", ...parts].join("-").replace(/:/g, "_");

export class SlackOutbox {
  constructor(
    private readonly queue: Queue,
    private readonly clock: Clock,
  ) {}

  /** `key` makes the job idempotent: the same key twice is one job (a retried delivery posts once). */
  async send(job: Body<SlackOutboundJob>, key: string, delayMs = 0): Promise<void> {
    await this.queue.add(
      "slack",
      { provider: "slack", ...job },
      {
        jobId: jobId(job.op, key),
        delay: delayMs,
        removeOnComplete: { age: 3_600 },
        removeOnFail: { age: 24 * 3_600 },
      },
    );
  }

  /** Renders the status message now (a session just started, a button was pressed). */
  statusNow(sessionId: string, key: string) {
    return this.send({ op: "status", sessionId }, `${sessionId}-${key}`);
  }

  /**
   * Renders the status message at the end of the current one-second window: every event of the
   * window shares one job (same id), which reads the state when it runs, so edits stay ≤ 1/s.
   */
  statusSoon(sessionId: string) {
    const { window, delayMs } = coalescingWindow(
      this.clock.now().getTime(),
      STATUS_EDIT_INTERVAL_MS,
    );
    return this.send({ op: "status", sessionId }, `${sessionId}-w${window}`, delayMs);
  }
}
