import { boundSessionCache, type Db, type EventBus, type Logger, type SessionEvent } from "@tandem/core";
import { PROVIDER } from "./config.ts";
import type { GitHubOutbox } from "./outbox.ts";

/**
 * Follows every session's live events and, for sessions bound to an issue or PR, schedules the
 * tracking comment's edit (coalesced per window) and, when a turn ends, the pull request and
 * final edit. Job ids come from the event, so several workers following the same events act once.
 */
export async function followGitHubSessions(deps: { db: Db; bus: EventBus; logger: Logger; outbox: GitHubOutbox }) {
  const isBound = boundSessionCache(deps.db, PROVIDER);

  const onEvent = async (event: SessionEvent) => {
    if (!(await isBound(event.sessionId))) return;
    if (event.body.type === "status" && ["idle", "failed", "stopped"].includes(event.body.status)) {
      return deps.outbox.send({ op: "summary", sessionId: event.sessionId, seq: event.seq }, `${event.sessionId}-${event.seq}`);
    }
    await deps.outbox.statusSoon(event.sessionId);
  };

  return deps.bus.subscribeAll((event) => {
    onEvent(event).catch((err) => deps.logger.warn({ err, sessionId: event.sessionId }, "github.follow_failed"));
  });
}
