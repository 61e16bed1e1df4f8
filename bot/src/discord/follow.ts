import {
  followBoundSessions,
  outboundRecord,
  type Clock,
  type Db,
  type EventBus,
  type Logger,
  type TurnEnd,
} from "@tandem/core";
import { PROVIDER } from "./config.ts";
import type { DiscordOutbox } from "./outbox.ts";

/**
 * Discord's follower: for sessions bound to a thread, the status edit (coalesced per window) on
 * every event and, when a turn ends (idle or failed), its summary; a turn end the live feed
 * missed is caught up from the event log.
 */
export function followDiscordSessions(deps: {
  db: Db;
  bus: EventBus;
  logger: Logger;
  outbox: DiscordOutbox;
  clock: Clock;
  catchUpMs?: number;
}) {
  const summary = (end: Pick<TurnEnd, "sessionId" | "seq" | "status">) =>
    deps.outbox.send(
      {
        op: "summary",
        sessionId: end.sessionId,
        seq: end.seq,
        status: end.status === "failed" ? "failed" : "idle",
      },
      `${end.sessionId}-${end.seq}`,
    );
  return followBoundSessions({
    provider: PROVIDER,
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    clock: deps.clock,
    catchUpMs: deps.catchUpMs,
    endStatuses: ["idle", "failed"],
    async onEvent(event) {
      await deps.outbox.statusSoon(event.sessionId);
      const { body } = event;
      if (body.type === "status" && (body.status === "idle" || body.status === "failed"))
        await summary({ sessionId: event.sessionId, seq: event.seq, status: body.status });
    },
    reported: (end) =>
      outboundRecord.exists(deps.db, {
        sessionId: end.sessionId,
        provider: PROVIDER,
        kind: end.status === "failed" ? `failed-${end.seq}` : `summary-${end.seq}-0`,
      }),
    async report(end) {
      await deps.outbox.statusSoon(end.sessionId);
      await summary(end);
    },
  });
}
