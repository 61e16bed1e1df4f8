import {
  loadUnprocessed,
  markProcessed,
  type Clock,
  type Db,
  type InboundEvent,
  type Logger,
} from "@tandem/core";

/** Turns one provider delivery into work (start, follow-up, stop or ignore). */
export type InboundHandler = (event: InboundEvent, log: Logger) => Promise<void>;

export interface InboundDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  handlers: Record<string, InboundHandler>;
}

/**
 * Processes a committed inbound event once: a delivery already processed (a duplicate job after
 * a sweep) is skipped. A handler error is rethrown so BullMQ retries it with backoff.
 */
export async function processInbound(
  deps: InboundDeps,
  inboundEventId: string,
): Promise<"processed" | "skipped"> {
  const event = await loadUnprocessed(deps.db, inboundEventId);
  if (!event) return "skipped";
  const log = deps.logger.child({
    inboundEventId,
    provider: event.provider,
    orgId: event.orgId ?? undefined,
  });
  const handler = deps.handlers[event.provider];
  if (!handler) {
    log.warn("inbound.no_handler");
    await markProcessed(deps.db, deps.clock, event.id, `no handler for provider ${event.provider}`);
    return "processed";
  }
  await handler(event, log);
  await markProcessed(deps.db, deps.clock, event.id);
  log.info("inbound.processed");
  return "processed";
}
