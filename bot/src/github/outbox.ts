import type { Queue } from "bullmq";
import { ProviderOutbox, type Clock } from "@tandem/core";
import { PROVIDER, STATUS_EDIT_INTERVAL_MS } from "./config.ts";

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

/** GitHub's outbox: a tracking-comment edit at most once per window; failures retried 5 times. */
export class GitHubOutbox extends ProviderOutbox<GitHubOutboundJob> {
  constructor(queue: Queue, clock: Clock) {
    super(queue, clock, {
      provider: PROVIDER,
      statusIntervalMs: STATUS_EDIT_INTERVAL_MS,
      attempts: 5,
    });
  }
}
