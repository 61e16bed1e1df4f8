import { ProviderOutbox, type Clock } from "@tandem/core";
import type { Queue } from "bullmq";
import { PROVIDER, STATUS_EDIT_INTERVAL_MS } from "./config.ts";
import type { DiscordMessage } from "./messages.ts";

/** Work for the outbound queue; every Discord write of a session's life goes through it. */
export type DiscordOutboundJob =
  | { provider: "discord"; op: "status"; sessionId: string }
  | {
      provider: "discord";
      op: "summary";
      sessionId: string;
      seq: number;
      status: "idle" | "failed";
    }
  | {
      provider: "discord";
      op: "post";
      channelId: string;
      message: DiscordMessage;
      /** Posted as a reply to this message. */
      replyTo?: string;
    }
  | { provider: "discord"; op: "react"; channelId: string; messageId: string; emoji: string }
  | {
      provider: "discord";
      op: "interaction";
      /** The interaction's token (valid 15 minutes): edit its first response, or follow it up. */
      token: string;
      action: "edit" | "followup";
      message: DiscordMessage;
    };

/** Discord's outbox: the status message edited at most every 1.5 s; 429s wait (no attempts spent). */
export class DiscordOutbox extends ProviderOutbox<DiscordOutboundJob> {
  constructor(queue: Queue, clock: Clock) {
    super(queue, clock, { provider: PROVIDER, statusIntervalMs: STATUS_EDIT_INTERVAL_MS });
  }
}
