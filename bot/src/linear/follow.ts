import {
  followBoundSessions,
  outboundRecord,
  type Clock,
  type Db,
  type EventBus,
  type Logger,
} from "@tandem/core";
import { PROVIDER } from "./config.ts";
import type { LinearOutbox } from "./outbox.ts";

const ENDED = ["idle", "failed", "stopped"] as const;

/**
 * The Linear reporter's follower: for sessions bound to an agent session, each command and edit
 * as an `action` activity, the plan as the session's plan, and when a turn ends one final
 * activity (response, elicitation or error). A turn end the live feed missed is caught up.
 */
export async function followLinearSessions(deps: {
  db: Db;
  bus: EventBus;
  logger: Logger;
  outbox: LinearOutbox;
  clock: Clock;
  catchUpMs?: number;
}) {
  const final = (sessionId: string, seq: number, status: string) =>
    deps.outbox.send({ op: "final", sessionId, seq, status }, `${sessionId}-${seq}`);
  return followBoundSessions({
    provider: PROVIDER,
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    clock: deps.clock,
    catchUpMs: deps.catchUpMs,
    endStatuses: ENDED,
    async onEvent({ sessionId, seq, body }) {
      if (body.type === "command" || body.type === "file_change")
        return deps.outbox.send({ op: "step", sessionId, seq }, `${sessionId}-${seq}`);
      if (body.type === "plan")
        return deps.outbox.send({ op: "plan", sessionId, seq }, `${sessionId}-${seq}`);
      if (body.type === "status" && (ENDED as readonly string[]).includes(body.status))
        return final(sessionId, seq, body.status);
    },
    reported: (end) =>
      outboundRecord.exists(deps.db, {
        sessionId: end.sessionId,
        provider: PROVIDER,
        kind: `final-${end.seq}`,
      }),
    report: (end) => final(end.sessionId, end.seq, end.status),
  });
}
