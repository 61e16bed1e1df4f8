import type { Clock } from "@tandem/core";
import { ProviderOutbox } from "@tandem/core";
import type { Queue } from "bullmq";
import type { SlackMessage } from "./blocks.ts";
import { PROVIDER, STATUS_EDIT_INTERVAL_MS } from "./config.ts";

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

/** Slack's outbox: a status edit at most once a second per thread; 429s wait (no attempts spent). */
export class SlackOutbox extends ProviderOutbox<SlackOutboundJob> {
  constructor(queue: Queue, clock: Clock) {
    super(queue, clock, { provider: PROVIDER, statusIntervalMs: STATUS_EDIT_INTERVAL_MS });
  }
}
