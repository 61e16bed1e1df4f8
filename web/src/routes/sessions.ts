import { eq } from "drizzle-orm";
import { z } from "zod";
import {
  addMessage,
  conflict,
  createSession,
  deleteSession,
  getSessionOrThrow,
  queuePosition,
  schema,
  sessionUrl,
  stopSession,
  type SessionDeps,
} from "@tandem/core";
import { requireActor } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { parse, requestLogger } from "../http.ts";
import type { Declare } from "./declare.ts";
import { sessionViews } from "./session-view.ts";
import { streamSessionEvents } from "./session-events.ts";

const createBody = z.strictObject({
  /** Absent: the profile's (or the default profile's) primary repository. */
  repository: z
    .string()
    .regex(/^[\w.-]+\/[\w.-]+$/, { error: "repository must look like owner/repo" })
    .optional(),
  prompt: z.string().trim().min(1, { error: "prompt must not be empty" }).max(100_000),
  profile: z.string().trim().min(1).optional(),
  ref: z
    .string()
    .regex(/^[\w./-]+$/, { error: "ref must be a branch, tag or commit" })
    .refine((r) => !r.startsWith("-") && !r.includes(".."), {
      error: "ref must be a branch, tag or commit",
    })
    .optional(),
});
const messageBody = z.strictObject({
  text: z.string().trim().min(1, { error: "text must not be empty" }).max(100_000),
  /** Also post the message in the thread the session came from (Slack); off by default. */
  echo: z.boolean().optional(),
});
const continueBody = z.strictObject({
  prompt: z.string().trim().min(1, { error: "prompt must not be empty" }).max(100_000).optional(),
});

export const sessionParams = z.object({ id: z.uuid({ error: "session id must be a UUID" }) });

export function sessionRoutes(declare: Declare, deps: WebDeps) {
  const { db } = deps.database;
  const sessionDeps: SessionDeps = {
    db,
    bus: deps.bus,
    queues: deps.queues,
    logger: deps.logger,
    clock: deps.clock,
    publicUrl: deps.config.PUBLIC_URL,
  };
  const views = sessionViews(deps);

  declare(
    {
      method: "POST",
      url: "/api/sessions",
      tag: "sessions",
      summary:
        "Start a session on a registered repository (the profile's primary one when none is named)",
      body: createBody,
      responses: {
        201: "created",
        400: "invalid body, or no repository named and the profile has none",
        404: "unknown repository or profile",
      },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      const body = parse(createBody, req.body);
      const session = await createSession(
        { ...sessionDeps, logger: requestLogger(req) },
        {
          orgId: actor.orgId,
          userId: actor.userId,
          repository: body.repository,
          prompt: body.prompt,
          profile: body.profile,
          ref: body.ref,
        },
      );
      return reply.code(201).send({
        id: session.id,
        status: session.status,
        url: sessionUrl(deps.config.PUBLIC_URL, session.id),
      });
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/sessions/:id/continue",
      tag: "sessions",
      summary:
        "Start a new session that carries on an ended one: same repository and profile, its task and link in the prompt",
      body: continueBody,
      responses: {
        201: "created",
        404: "not found in your organization",
        409: "not ended: send it a message instead",
      },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      const { id } = parse(sessionParams, req.params, "path");
      const body = parse(continueBody, req.body ?? {});
      const previous = await getSessionOrThrow(db, actor.orgId, id);
      if (previous.status !== "stopped" && previous.status !== "failed")
        throw conflict(
          `the session is ${previous.status}: it takes follow-ups, so send it a message instead`,
        );
      const repo = await db.query.repositories.findFirst({
        where: (r, { eq }) => eq(r.id, previous.repositoryId),
      });
      const [profile] = previous.profileVersionId
        ? await db
            .select({ name: schema.sandboxProfiles.name })
            .from(schema.sandboxProfileVersions)
            .innerJoin(
              schema.sandboxProfiles,
              eq(schema.sandboxProfiles.id, schema.sandboxProfileVersions.profileId),
            )
            .where(eq(schema.sandboxProfileVersions.id, previous.profileVersionId))
        : [];
      const task = previous.prompt.split("\n")[0]!.slice(0, 300);
      const prompt = [
        body.prompt ?? "Carry on with the work of the earlier session.",
        "",
        `---\nThis continues an earlier session (${previous.status}${previous.error ? `: ${previous.error}` : ""}): ${sessionUrl(deps.config.PUBLIC_URL, previous.id)}`,
        `Its task: ${task}`,
        ...(previous.branch ? [`Its work was pushed to the branch ${previous.branch}.`] : []),
      ].join("\n");
      const session = await createSession(
        { ...sessionDeps, logger: requestLogger(req) },
        {
          orgId: actor.orgId,
          userId: actor.userId,
          repository: repo!.name,
          prompt,
          ...(profile ? { profile: profile.name } : {}),
        },
      );
      return reply.code(201).send({
        id: session.id,
        status: session.status,
        url: sessionUrl(deps.config.PUBLIC_URL, session.id),
      });
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/sessions/:id",
      tag: "sessions",
      summary: "One session",
      responses: { 200: "ok", 404: "not found in your organization" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      const { id } = parse(sessionParams, req.params, "path");
      const session = await getSessionOrThrow(db, actor.orgId, id);
      const repo = await db.query.repositories.findFirst({
        where: (r, { eq }) => eq(r.id, session.repositoryId),
      });
      // Every repository the session works on, primary first (one per session today).
      return {
        ...(await views([{ session, repository: repo!.name }]))[0]!,
        repositories: [repo!.name],
        queuePosition: await queuePosition(db, session),
      };
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/sessions/:id/messages",
      tag: "sessions",
      summary: "Send a follow-up message to the agent",
      body: messageBody,
      responses: { 202: "queued for the next turn", 409: "session has ended" },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      const { id } = parse(sessionParams, req.params, "path");
      const body = parse(messageBody, req.body);
      const message = await addMessage(
        { ...sessionDeps, logger: requestLogger(req, { sessionId: id }) },
        {
          orgId: actor.orgId,
          sessionId: id,
          userId: actor.userId,
          text: body.text,
          source: "api",
          echo: body.echo,
        },
      );
      return reply.code(202).send({ id: message.id, createdAt: message.createdAt.toISOString() });
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/sessions/:id/stop",
      tag: "sessions",
      summary: "Stop the session",
      responses: { 200: "stopped", 409: "already ended" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      const { id } = parse(sessionParams, req.params, "path");
      const session = await stopSession(
        { ...sessionDeps, logger: requestLogger(req, { sessionId: id }) },
        actor.orgId,
        id,
      );
      return { id: session.id, status: session.status };
    },
  );

  declare(
    {
      method: "DELETE",
      url: "/api/sessions/:id",
      tag: "sessions",
      summary:
        "Delete an ended session: its sandbox, the volumes of a persistent sandbox, its events and messages",
      responses: {
        204: "deleted",
        403: "a member deleting another's session",
        404: "not found in your organization",
        409: "not ended yet: stop it first",
      },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      const { id } = parse(sessionParams, req.params, "path");
      await deleteSession(
        {
          db,
          logger: requestLogger(req, { sessionId: id }),
          clock: deps.clock,
          sandboxes: deps.sandboxes,
        },
        actor,
        id,
      );
      await deps.bus
        .publishChange({ orgId: actor.orgId, sessionId: id, kind: "deleted" })
        .catch((err) => req.log.warn({ err, sessionId: id }, "event.publish_failed"));
      return reply.code(204).send();
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/sessions/:id/events",
      tag: "sessions",
      summary: "The session's events as Server-Sent Events; replays after Last-Event-ID",
      responses: { 200: "event stream", 404: "not found in your organization" },
      produces: "text/event-stream",
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      const { id } = parse(sessionParams, req.params, "path");
      await getSessionOrThrow(db, actor.orgId, id);
      await streamSessionEvents(deps, req, reply, id);
    },
  );
}
