import { followBoundSessions, type Clock, type Db, type EventBus, type Logger } from "@tandem/core";
import { PROVIDER } from "./config.ts";
import { TRACKING } from "./outbound.ts";
import type { GitHubOutbox } from "./outbox.ts";

const ENDED = ["idle", "failed", "stopped"] as const;

/**
 * The GitHub reporter's follower: for sessions bound to an issue or PR, the tracking comment's
 * edit (coalesced per window) and, when a turn ends, the pull request and the final edit. A turn
 * end whose tracking comment was last written before it is caught up from the event log.
 */
export async function followGitHubSessions(deps: {
  db: Db;
  bus: EventBus;
  logger: Logger;
  outbox: GitHubOutbox;
  clock: Clock;
  catchUpMs?: number;
}) {
  const summary = (sessionId: string, seq: number) =>
    deps.outbox.send({ op: "summary", sessionId, seq }, `${sessionId}-${seq}`);
  return followBoundSessions({
    provider: PROVIDER,
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    clock: deps.clock,
    catchUpMs: deps.catchUpMs,
    endStatuses: ENDED,
    async onEvent(event) {
      if (event.body.type === "status" && (ENDED as readonly string[]).includes(event.body.status))
        return summary(event.sessionId, event.seq);
      await deps.outbox.statusSoon(event.sessionId);
    },
    async reported(end) {
      const tracking = await deps.db.query.outboundMessages.findFirst({
        where: (m, { and, eq }) =>
          and(eq(m.sessionId, end.sessionId), eq(m.provider, PROVIDER), eq(m.kind, TRACKING)),
        columns: { updatedAt: true },
      });
      return tracking !== undefined && tracking.updatedAt >= end.updatedAt;
    },
    report: (end) => summary(end.sessionId, end.seq),
  });
}
