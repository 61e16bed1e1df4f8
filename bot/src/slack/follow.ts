import { and, desc, eq, gt, inArray, lt } from "drizzle-orm";
import {
  boundSessionCache,
  every,
  schema,
  type Clock,
  type Db,
  type EventBus,
  type Logger,
  type SessionEvent,
} from "@tandem/core";
import { noticeMessage } from "./blocks.ts";
import { parseThreadKey, PROVIDER } from "./config.ts";
import type { SlackOutbox } from "./outbox.ts";

/** A turn end older than this whose summary is not in the thread counts as missed by the live feed. */
const CATCH_UP_SETTLE_MS = 5_000;
/** How far back the catch-up looks. */
const CATCH_UP_WINDOW_MS = 6 * 60 * 60_000;

/**
 * Follows every session's live events and, for sessions bound to a Slack thread, schedules the
 * status edit (coalesced to ≤ 1/s) and, when a turn ends, its summary. Job ids are derived from
 * the event, so several workers following the same events still post once. The live feed is
 * pub/sub, which drops what nobody heard (a worker restarting, a Redis blip): every `catchUpMs`
 * the turn ends of the last hours are read from the event log and any summary missing from the
 * thread is posted then (the reporter posts each one once).
 */
export async function followSlackSessions(deps: {
  db: Db;
  bus: EventBus;
  logger: Logger;
  outbox: SlackOutbox;
  clock: Clock;
  catchUpMs?: number;
}) {
  const isBound = boundSessionCache(deps.db, PROVIDER);

  const onEvent = async (event: SessionEvent) => {
    if (!(await isBound(event.sessionId))) {
      if (
        event.body.type === "status" &&
        ["idle", "stopped", "failed"].includes(event.body.status)
      ) {
        await refreshQueued(event.sessionId); // a slot freed: positions in the queue moved
      }
      return;
    }
    await deps.outbox.statusSoon(event.sessionId);
    if (
      event.body.type === "message" &&
      event.body.role === "user" &&
      event.body.echo &&
      event.body.source !== PROVIDER
    ) {
      await echoToThread(event.sessionId, event.seq, event.body.text);
    }
    if (event.body.type !== "status") return;
    const status = event.body.status;
    if (status === "idle" || status === "failed") {
      await deps.outbox.send(
        { op: "summary", sessionId: event.sessionId, seq: event.seq, status },
        `${event.sessionId}-${event.seq}`,
      );
    }
    if (status === "idle" || status === "stopped" || status === "failed")
      await refreshQueued(event.sessionId);
  };

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

  /** Thread-bound sessions whose last turn ended (idle or failed) without its summary in the thread. */
  const catchUp = async () => {
    const now = deps.clock.now().getTime();
    const ended = await deps.db
      .select({ id: schema.sessions.id })
      .from(schema.sessions)
      .innerJoin(
        schema.sessionBindings,
        and(
          eq(schema.sessionBindings.sessionId, schema.sessions.id),
          eq(schema.sessionBindings.provider, PROVIDER),
        ),
      )
      .where(
        and(
          inArray(schema.sessions.status, ["idle", "failed"]),
          gt(schema.sessions.updatedAt, new Date(now - CATCH_UP_WINDOW_MS)),
          lt(schema.sessions.updatedAt, new Date(now - CATCH_UP_SETTLE_MS)),
        ),
      )
      .limit(100);
    for (const { id } of ended) {
      const [last] = await deps.db
        .select({ seq: schema.sessionEvents.seq, data: schema.sessionEvents.data })
        .from(schema.sessionEvents)
        .where(and(eq(schema.sessionEvents.sessionId, id), eq(schema.sessionEvents.type, "status")))
        .orderBy(desc(schema.sessionEvents.seq))
        .limit(1);
      const status = (last?.data as { status?: string } | undefined)?.status;
      if (!last || (status !== "idle" && status !== "failed")) continue;
      const kind = status === "failed" ? `failed-${last.seq}` : `summary-${last.seq}`;
      const posted = await deps.db.query.outboundMessages.findFirst({
        where: and(
          eq(schema.outboundMessages.sessionId, id),
          eq(schema.outboundMessages.provider, PROVIDER),
          eq(schema.outboundMessages.kind, kind),
        ),
      });
      if (posted) continue;
      deps.logger.info({ sessionId: id, seq: last.seq, status }, "slack.catch_up");
      await deps.outbox.statusSoon(id);
      await deps.outbox.send(
        { op: "summary", sessionId: id, seq: last.seq, status },
        `${id}-${last.seq}`,
      );
    }
  };
  const stopCatchingUp = every(deps.catchUpMs ?? 30_000, catchUp, (err) =>
    deps.logger.warn({ err }, "slack.catch_up_failed"),
  );

  const unsubscribe = await deps.bus.subscribeAll((event) => {
    onEvent(event).catch((err) =>
      deps.logger.warn({ err, sessionId: event.sessionId }, "slack.follow_failed"),
    );
  });
  return async () => {
    stopCatchingUp();
    await unsubscribe();
  };
}
