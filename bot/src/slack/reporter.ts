import type { WebClient } from "@slack/web-api";
import { outboundRecord, RetryLaterError, type Clock, type Db } from "@tandem/core";
import {
  completeMessage,
  failMessage,
  progressMessage,
  type SlackMessage,
  type StatusSnapshot,
  type TurnSummary,
} from "./blocks.ts";
import { classifySlackError } from "./client.ts";
import { PROVIDER, STATUS_EDIT_INTERVAL_MS } from "./config.ts";

export interface SlackThread {
  channel: string;
  threadTs: string;
}

/** Calls Slack; a failure comes back classified (retry later, permanent, transient). */
export async function slackCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifySlackError(err);
  }
}

/**
 * Reports one session into its Slack thread: acknowledge with 👀, one status message edited in
 * place, a summary when a turn ends, a short message when it fails. Every message carries the
 * View session link; the ts of each is kept in `outbound_messages`.
 */
export class SlackReporter {
  private readonly target: string;

  constructor(
    private readonly deps: { db: Db; clock: Clock; client: WebClient },
    private readonly sessionId: string,
    private readonly thread: SlackThread,
  ) {
    this.target = `${thread.channel}:${thread.threadTs}`;
  }

  /** 👀 on the message that asked, at once. */
  static async acknowledge(client: WebClient, channel: string, ts: string): Promise<void> {
    await slackCall(() => client.reactions.add({ channel, timestamp: ts, name: "eyes" })).catch(
      (err: Error) => {
        if (!/already_reacted/.test(err.message)) throw err;
      },
    );
  }

  /** Posts the status message the first time, then edits that same message, at most once a second. */
  async progress(snapshot: StatusSnapshot): Promise<void> {
    const message = progressMessage(snapshot);
    const row = await this.stored("status");
    if (row?.externalId) {
      const sinceMs = this.deps.clock.now().getTime() - row.updatedAt.getTime();
      if (sinceMs < STATUS_EDIT_INTERVAL_MS)
        throw new RetryLaterError(
          STATUS_EDIT_INTERVAL_MS - sinceMs,
          "status message edited less than a second ago",
        );
      await slackCall(() =>
        this.deps.client.chat.update({
          channel: this.thread.channel,
          ts: row.externalId!,
          ...message,
        }),
      );
      await this.remember("status", row.externalId);
      return;
    }
    const ts = await this.post(message);
    await this.remember("status", ts);
  }

  /** The end of a turn; `seq` (the event that ended it) makes a retried job post it once. */
  async complete(seq: number, summary: TurnSummary): Promise<void> {
    await this.once(`summary-${seq}`, completeMessage(summary));
  }

  async fail(seq: number, reason: string, url: string): Promise<void> {
    await this.once(`failed-${seq}`, failMessage(reason, url));
  }

  private async once(kind: string, message: SlackMessage) {
    if ((await this.stored(kind))?.externalId) return;
    await this.remember(kind, await this.post(message));
  }

  private async post(message: SlackMessage): Promise<string> {
    const res = await slackCall(() =>
      this.deps.client.chat.postMessage({
        channel: this.thread.channel,
        thread_ts: this.thread.threadTs,
        unfurl_links: false,
        unfurl_media: false,
        ...message,
      }),
    );
    return res.ts ?? "";
  }

  private key(kind: string) {
    return { sessionId: this.sessionId, provider: PROVIDER, kind, target: this.target };
  }

  private stored(kind: string) {
    return outboundRecord.find(this.deps.db, this.key(kind));
  }

  private remember(kind: string, ts: string) {
    return outboundRecord.remember(this.deps.db, this.deps.clock, this.key(kind), ts);
  }
}
