import { z } from "zod";
import {
  listSessions,
  SESSION_STATUSES,
  setSessionTitle,
  TITLE_MAX,
  type SessionChange,
} from "@tandem/core";
import { requireActor } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { parse, requestLogger } from "../http.ts";
import type { Declare } from "./declare.ts";
import { HEARTBEAT_MS, openEventStream } from "./session-events.ts";
import { sessionParams } from "./sessions.ts";
import { sessionViews } from "./session-view.ts";

/** `a,b,c` → ["a", "b", "c"], each checked by `item`. */
const commaList = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item));

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** The `createdAt` of the last session of the page before: the next page starts after it. */
  before: z.iso.datetime({ error: "before must be an ISO date-time" }).optional(),
  status: commaList(
    z.enum(SESSION_STATUSES, { error: `status must be one of ${SESSION_STATUSES.join(", ")}` }),
  ).optional(),
  source: commaList(
    z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, {
      error: "source must be a source's name, like api or slack",
    }),
  ).optional(),
  repository: z
    .string()
    .regex(/^[\w.-]+\/[\w.-]+$/, { error: "repository must look like owner/repo" })
    .optional(),
  q: z
    .string()
    .trim()
    .max(200, { error: "q must be at most 200 characters" })
    .transform((q) => q || undefined)
    .optional(),
});

const titleBody = z.strictObject({
  title: z
    .string({ error: "title must be a string" })
    .trim()
    .min(1, { error: "title must not be empty" })
    .max(TITLE_MAX, { error: `title must be at most ${TITLE_MAX} characters` }),
});

/** The sessions list: filtered pages, the live feed of the org's changes, and renaming. */
export function sessionListRoutes(declare: Declare, deps: WebDeps) {
  const { db } = deps.database;
  const views = sessionViews(deps);

  declare(
    {
      method: "GET",
      url: "/api/sessions",
      tag: "sessions",
      summary:
        "Sessions of the organization, newest first, by status, source, repository and words in the title or task",
      query: listQuery,
      responses: { 200: "ok", 400: "a filter that is not valid" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      const query = parse(listQuery, req.query, "query");
      const rows = await listSessions(db, actor.orgId, {
        limit: query.limit,
        before: query.before ? new Date(query.before) : undefined,
        statuses: query.status,
        sources: query.source,
        repository: query.repository,
        q: query.q,
      });
      const last = rows.at(-1);
      return {
        sessions: await views(rows),
        /** Pass as `before` for the next page; null on the last one. */
        nextBefore:
          rows.length === query.limit && last ? last.session.createdAt.toISOString() : null,
      };
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/sessions/stream",
      tag: "sessions",
      summary:
        "Server-Sent Events: each session of the organization as it is created, changes status, title or diff, or is deleted",
      responses: { 200: "event stream" },
      produces: "text/event-stream",
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      const log = requestLogger(req, { orgId: actor.orgId });
      const res = openEventStream(reply);
      let closed = false;
      let chain = Promise.resolve();
      // One change at a time, so a session's updates reach the page in the order they happened.
      const frame = (change: SessionChange, session: unknown) =>
        res.write(`data: ${JSON.stringify({ change: change.kind, session })}\n\n`);
      const send = (change: SessionChange) => {
        if (change.orgId !== actor.orgId) return;
        chain = chain
          .then(async () => {
            if (closed) return;
            // A deleted session has no row left to show: its id tells the page which to take out.
            if (change.kind === "deleted") return void frame(change, { id: change.sessionId });
            const rows = await listSessions(db, actor.orgId, { limit: 1, ids: [change.sessionId] });
            if (!rows.length || closed) return;
            frame(change, (await views(rows))[0]);
          })
          .catch((err) => log.warn({ err, sessionId: change.sessionId }, "sse.session_failed"));
      };
      const unsubscribe = await deps.bus.subscribeChanges(actor.orgId, send);
      const heartbeat = setInterval(() => res.write(": keep-alive\n\n"), HEARTBEAT_MS);
      req.raw.on("close", () => {
        closed = true;
        clearInterval(heartbeat);
        void unsubscribe();
      });
    },
  );

  declare(
    {
      method: "PATCH",
      url: "/api/sessions/:id",
      tag: "sessions",
      summary: "Rename the session (its title; without one it is called by its task's first line)",
      body: titleBody,
      responses: {
        200: "renamed",
        400: "invalid body",
        403: "a member renaming another's session",
        404: "not found in your organization",
      },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      const { id } = parse(sessionParams, req.params, "path");
      const body = parse(titleBody, req.body);
      await setSessionTitle(
        { db, bus: deps.bus, clock: deps.clock, logger: requestLogger(req, { sessionId: id }) },
        actor,
        id,
        body.title,
      );
      const [view] = await views(await listSessions(db, actor.orgId, { limit: 1, ids: [id] }));
      return view;
    },
  );
}
