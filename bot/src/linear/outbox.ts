import type { Queue } from "bullmq";
import { ProviderOutbox, type Clock } from "@tandem/core";
import { PROVIDER } from "./config.ts";

/** Work for the outbound queue; every Linear write goes through it, so a rate limit delays it. */
export type LinearOutboundJob =
  /** A thought in the agent session (the acknowledgment within Linear's 10 s, a notice). */
  | { provider: "linear"; op: "thought"; workspaceId: string; agentSessionId: string; body: string }
  /** An error or elicitation the router sends before (or instead of) a Tandem session. */
  | {
      provider: "linear";
      op: "say";
      workspaceId: string;
      agentSessionId: string;
      kind: "error" | "elicitation" | "response";
      body: string;
      /** `select` with the options to pick from (an elicitation). */
      options?: string[];
    }
  /** The View session link on the agent session, and (`issueId`) the issue moved to started. */
  | {
      provider: "linear";
      op: "link";
      workspaceId: string;
      sessionId: string;
      agentSessionId: string;
      issueId?: string;
    }
  /** A command or a file edit (the event `seq`) as an `action` activity. */
  | { provider: "linear"; op: "step"; sessionId: string; seq: number }
  /** The agent's plan (the event `seq`) as the agent session's plan. */
  | { provider: "linear"; op: "plan"; sessionId: string; seq: number }
  /** A turn ended (the status event `seq`): one response, elicitation or error. */
  | { provider: "linear"; op: "final"; sessionId: string; seq: number; status: string };

/** Linear's outbox: each job once by key; failures retried 5 times, rate limits waited out. */
export class LinearOutbox extends ProviderOutbox<LinearOutboundJob> {
  constructor(queue: Queue, clock: Clock) {
    super(queue, clock, { provider: PROVIDER, statusIntervalMs: 1_000, attempts: 5 });
  }
}
