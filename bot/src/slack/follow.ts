import { and, eq } from "drizzle-orm";
import {
  followBoundSessions,
  outboundRecord,
  schema,
  type Clock,
  type Db,
  type EventBus,
  type Logger,
  type SessionEvent,
  type TurnEnd,
} from "@tandem/core";
import { noticeMessage } from "./blocks.ts";
import { parseThreadKey, PROVIDER } from "./config.ts";
import type { SlackOutbox } from "./outbox.ts";

const ENDED = ["idle", "stopped", "failed"];

/**
 * The Slack reporter's follower: for sessions bound to a thread, the status edit (coalesced to
 * ≤ 1/s) and, when a turn ends (idle or failed), its summary; messages written in the workbench
 * that asked to be echoed; and the queue positions of waiting Slack sessions when a slot frees.
 * A turn end the live feed missed is caught up from the event log (see `followBoundSessions`).
 */
export async function followSlackSessions(deps: {
  db: Db;
  bus: EventBus;
  logger: Logger;
  outbox: SlackOutbox;
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

  /** A message written elsewhere (the workbench) whose writer asked for it to appear in the thread. */
  const echoToThread = async (sessionId: string, seq: number, text: string) => {
    const [binding] = await deps.db
      .select({ threadKey: schema.sessionBindings.threadKey })
      .from(schema.sessionBindings)
      .where(
        and(
          eq(schema.sessionBindings.sessionId, sessionId),
          eq(schema.sessionBindings.provider, PROVIDER),
        ),
      )
      .limit(1);
    if (!binding) return;
    const { teamId, channel, threadTs } = parseThreadKey(binding.threadKey);
    await deps.outbox.send(
      {
        op: "post",
        teamId,
        channel,
        threadTs,
        message: noticeMessage(`From the workbench: ${text}`),
      },
      `${sessionId}-echo-${seq}`,
    );
  };

  /** Queued Slack sessions of the same org show their position; it changed. */
  const refreshQueued = async (sessionId: string) => {
    const session = await deps.db.query.sessions.findFirst({
      where: eq(schema.sessions.id, sessionId),
      columns: { orgId: true },
    });
    if (!session) return;
    const queued = await deps.db
      .select({ id: schema.sessions.id })
      .from(schema.sessions)
      .innerJoin(
        schema.sessionBindings,
        and(
          eq(schema.sessionBindings.sessionId, schema.sessions.id),
          eq(schema.sessionBindings.provider, PROVIDER),
        ),
      )
      .where(and(eq(schema.sessions.orgId, session.orgId), eq(schema.sessions.status, "queued")))
      .limit(20);
    for (const { id } of queued) await deps.outbox.statusSoon(id);
  };

  const slotFreed = (event: SessionEvent) =>
    event.body.type === "status" && ENDED.includes(event.body.status);

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
      if (body.type === "message" && body.role === "user" && body.echo && body.source !== PROVIDER)
        await echoToThread(event.sessionId, event.seq, body.text);
      if (body.type !== "status") return;
      if (body.status === "idle" || body.status === "failed")
        await summary({ sessionId: event.sessionId, seq: event.seq, status: body.status });
      if (slotFreed(event)) await refreshQueued(event.sessionId);
    },
    // A slot freed elsewhere: positions in the queue moved.
    onOtherEvent: async (event) => (slotFreed(event) ? refreshQueued(event.sessionId) : undefined),
    reported: (end) =>
      outboundRecord.exists(deps.db, {
        sessionId: end.sessionId,
        provider: PROVIDER,
        kind: `${end.status === "failed" ? "failed" : "summary"}-${end.seq}`,
      }),
    async report(end) {
      await deps.outbox.statusSoon(end.sessionId);
      await summary(end);
    },
  });
}
