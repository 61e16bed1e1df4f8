import type { FastifyReply, FastifyRequest } from "fastify";
import { badRequest, listEventsAfter, type SessionEvent } from "@tandem/core";
import type { WebDeps } from "../deps.ts";

export const HEARTBEAT_MS = 15_000;

/** The resume point: the `Last-Event-ID` header, or `?lastEventId=` for the first EventSource connect. */
function lastEventId(req: FastifyRequest): number {
  const header = req.headers["last-event-id"];
  const raw =
    typeof header === "string"
      ? header
      : (req.query as { lastEventId?: string } | undefined)?.lastEventId;
  if (raw === undefined || raw === "") return 0;
  if (!/^\d+$/.test(raw))
    throw badRequest("Last-Event-ID must be a non-negative integer (an event id)");
  return Number(raw);
}

/** Takes the response over as an event stream (no proxy buffering; reconnect after 2 s). */
export function openEventStream(reply: FastifyReply) {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.write("retry: 2000\n\n");
  return res;
}

/**
 * Streams the session's log: first what was committed after the resume point, then live events.
 * Live notices only wake the stream; events are always sent in seq order from the log, so a
 * notice that arrives early or twice can neither skip nor repeat an event.
 */
export async function streamSessionEvents(
  deps: WebDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  sessionId: string,
) {
  let sent = lastEventId(req);
  const { db } = deps.database;
  const res = openEventStream(reply);

  /** The events after the last one sent, as one write (a replay of hundreds is one syscall, not hundreds). */
  const write = (events: SessionEvent[]) => {
    let chunk = "";
    for (const event of events) {
      if (event.seq <= sent) continue;
      chunk += `id: ${event.seq}\ndata: ${JSON.stringify({ seq: event.seq, createdAt: event.createdAt, ...event.body })}\n\n`;
      sent = event.seq;
    }
    if (chunk) res.write(chunk);
  };

  let closed = false;
  let chain = Promise.resolve();
  const catchUp = (hint?: SessionEvent) => {
    chain = chain
      .then(async () => {
        if (closed) return;
        if (hint && hint.seq === sent + 1) return write([hint]);
        if (hint && hint.seq <= sent) return;
        for (;;) {
          const page = await listEventsAfter(db, sessionId, sent);
          write(page);
          if (page.length < 500 || closed) return;
        }
      })
      .catch((err) => req.log.warn({ err, sessionId }, "sse.catch_up_failed"));
  };

  const unsubscribe = await deps.bus.subscribe(sessionId, (event) => catchUp(event));
  catchUp();
  const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
  req.raw.on("close", () => {
    closed = true;
    clearInterval(heartbeat);
    void unsubscribe();
  });
}
