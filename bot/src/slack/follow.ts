import { and, eq } from "drizzle-orm";
import { boundSessionCache, schema, type Db, type EventBus, type Logger, type SessionEvent } from "@tandem/core";
import { noticeMessage } from "./blocks.ts";
import { parseThreadKey, PROVIDER } from "./config.ts";
import type { SlackOutbox } from "./outbox.ts";

/**
 * Follows every session's live events and, for sessions bound to a Slack thread, schedules the
 * status edit (coalesced to ≤ 1/s) and, when a turn ends, its summary. Job ids are derived from
 * the event, so several workers following the same events still post once.
 */
export async function followSlackSessions(deps: { db: Db; bus: EventBus; logger: Logger; outbox: SlackOutbox }) {
  const isBound = boundSessionCache(deps.db, PROVIDER);

  const onEvent = async (event: SessionEvent) => {
    if (!(await isBound(event.sessionId))) {
      if (event.body.type === "status" && ["idle", "stopped", "failed"].includes(event.body.status)) {
        await refreshQueued(event.sessionId); // a slot freed: positions in the queue moved
      }
      return;
    }
    await deps.outbox.statusSoon(event.sessionId);
    if (event.body.type === "message" && event.body.role === "user" && event.body.echo && event.body.source !== PROVIDER) {
      await echoToThread(event.sessionId, event.seq, event.body.text);
    }
    if (event.body.type !== "status") return;
    const status = event.body.status;
    if (status === "idle" || status === "failed") {
      await deps.outbox.send({ op: "summary", sessionId: event.sessionId, seq: event.seq, status }, `${event.sessionId}-${event.seq}`);
    }
    if (status === "idle" || status === "stopped" || status === "failed") await refreshQueued(event.sessionId);
  };

  /** A message written elsewhere (the workbench) whose writer asked for it to appear in the thread. */
  const echoToThread = async (sessionId: string, seq: number, text: string) => {
    const [binding] = await deps.db.select({ threadKey: schema.sessionBindings.threadKey }).from(schema.sessionBindings)
      .where(and(eq(schema.sessionBindings.sessionId, sessionId), eq(schema.sessionBindings.provider, PROVIDER))).limit(1);
    if (!binding) return;
    const { teamId, channel, threadTs } = parseThreadKey(binding.threadKey);
    await deps.outbox.send({ op: "post", teamId, channel, threadTs, message: noticeMessage(`From the workbench: ${text}`) }, `${sessionId}-echo-${seq}`);
  };

  /** Queued Slack sessions of the same org show their position; it changed. */
  const refreshQueued = async (sessionId: string) => {
    const session = await deps.db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId), columns: { orgId: true } });
    if (!session) return;
    const queued = await deps.db.select({ id: schema.sessions.id }).from(schema.sessions)
      .innerJoin(schema.sessionBindings, and(eq(schema.sessionBindings.sessionId, schema.sessions.id), eq(schema.sessionBindings.provider, PROVIDER)))
      .where(and(eq(schema.sessions.orgId, session.orgId), eq(schema.sessions.status, "queued"))).limit(20);
    for (const { id } of queued) await deps.outbox.statusSoon(id);
  };

  return deps.bus.subscribeAll((event) => {
    onEvent(event).catch((err) => deps.logger.warn({ err, sessionId: event.sessionId }, "slack.follow_failed"));
  });
}
