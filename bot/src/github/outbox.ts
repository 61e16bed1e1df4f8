import type { Queue } from "bullmq";
import { coalescingWindow, type Clock } from "@tandem/core";
import { STATUS_EDIT_INTERVAL_MS } from "./config.ts";

/** Work for the outbound queue; every GitHub write goes through it, so rate limits delay it instead of losing it. */
export type GitHubOutboundJob =
  | {
      provider: "github";
      op: "react";
      installationId: number;
      repo: string;
      target:
        | { kind: "issue_comment" | "review_comment"; id: number }
        | { kind: "issue"; number: number };
    }
  /** A one-off comment (a refusal, "this session ended"); always with a link. */
  | {
      provider: "github";
      op: "comment";
      installationId: number;
      repo: string;
      number: number;
      body: string;
    }
  /** A reply in the review thread of the comment `commentId` on pull request `number`. */
  | {
      provider: "github";
      op: "review_reply";
      installationId: number;
      repo: string;
      number: number;
      commentId: number;
      body: string;
    }
  /** Renders the tracking comment from the session's state. */
  | { provider: "github"; op: "status"; sessionId: string }
  /** A turn ended: open or update the pull request, then the final edit. */
  | { provider: "github"; op: "summary"; sessionId: string; seq: number };

type Body<T> = T extends unknown ? Omit<T, "provider"> : never;

const jobId = (...parts: string[]) => ["github", ...parts].join("-").replace(/[:/#]/g, "_");

export class GitHubOutbox {
  constructor(
    private readonly queue: Queue,
    private readonly clock: Clock,
  ) {}

  /** `key` makes the job idempotent: a retried delivery posts once. */
  async send(job: Body<GitHubOutboundJob>, key: string, delayMs = 0): Promise<void> {
    await this.queue.add(
      "github",
      { provider: "github", ...job },
      {
        jobId: jobId(job.op, key),
        delay: delayMs,
        removeOnComplete: { age: 3_600 },
        removeOnFail: { age: 24 * 3_600 },
        attempts: 5,
        backoff: { type: "exponential", delay: 1_000 },
      },
    );
  }

  statusNow(sessionId: string, key: string) {
    return this.send({ op: "status", sessionId }, `${sessionId}-${key}`);
  }

  /** One render per window per session: every event in the window shares the job. */
  statusSoon(sessionId: string) {
    const { window, delayMs } = coalescingWindow(
      this.clock.now().getTime(),
      STATUS_EDIT_INTERVAL_MS,
    );
    return this.send({ op: "status", sessionId }, `${sessionId}-w${window}`, delayMs);
  }
}
