import type { Queue } from "bullmq";
import { ProviderOutbox, type Clock } from "@tandem/core";
import { PROVIDER, STATUS_EDIT_INTERVAL_MS } from "./config.ts";

/** Work for the outbound queue; every Jira write goes through it, so a rate limit delays it. */
export type JiraOutboundJob =
  /** A one-off comment in Markdown (a question, a refusal), mentioning `mention` if given. */
  | { provider: "jira"; op: "comment"; issueKey: string; body: string; mention?: string }
  /** Renders the session's tracking comment (created the first time, then edited in place). */
  | { provider: "jira"; op: "status"; sessionId: string }
  /** A turn ended (the status event `seq`): the final edit, with the pull request when there is one. */
  | { provider: "jira"; op: "summary"; sessionId: string; seq: number }
  /** The issue moves from a to-do status to an in-progress one (JIRA_MOVE_TO_IN_PROGRESS). */
  | { provider: "jira"; op: "start_progress"; issueKey: string };

/** Jira's outbox: a tracking-comment edit at most once per window; failures retried 5 times. */
export class JiraOutbox extends ProviderOutbox<JiraOutboundJob> {
  constructor(queue: Queue, clock: Clock) {
    super(queue, clock, {
      provider: PROVIDER,
      statusIntervalMs: STATUS_EDIT_INTERVAL_MS,
      attempts: 5,
    });
  }
}
