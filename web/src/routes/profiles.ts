import { z } from "zod";
import {
  createProfile,
  getProfileViewOrThrow,
  listProfiles,
  listVersionSnapshotsOrThrow,
  parseRefreshCronOrThrow,
  profileDefaults,
  profileSpec,
  deleteProfile,
  publishProfile,
  refreshProfile,
  requireAdmin,
  updateDraft,
  updateProfile,
} from "@tandem/core";
import { requireActor } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { parse, requestLogger } from "../http.ts";
import type { Declare } from "./declare.ts";

const profileName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, {
  error: "name must be 1-63 lowercase letters, digits, '.', '_' or '-'",
});
const createBody = z.strictObject({ name: profileName });
const draftBody = z.strictObject({ spec: profileSpec });
export const profileParams = z.object({ name: profileName });
const params = profileParams;
const versionParams = z.object({
  name: profileName,
  version: z.coerce
    .number({ error: "version must be a number" })
    .int()
    .positive({ error: "version must be a positive number" }),
});
const patchBody = z
  .strictObject({
    active: z.boolean().optional(),
    /** 5 cron fields (or 6, seconds first), UTC; null stops the schedule. */
    refreshCron: z.string().max(200).nullable().optional(),
  })
  .refine((b) => b.active !== undefined || b.refreshCron !== undefined, {
    error: "give active, refreshCron or both",
  });

export function profileRoutes(declare: Declare, deps: WebDeps) {
  const { db } = deps.database;
  const permissions = { allowHostNetwork: deps.config.SANDBOX_ALLOW_HOST_NETWORK };

  declare(
    {
      method: "GET",
      url: "/api/profiles",
      tag: "profiles",
      summary:
        "The org's sandbox profiles, each with whether it can start a session now (and why not)",
      responses: { 200: "ok" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      return { profiles: await listProfiles(db, actor.orgId) };
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/profiles",
      tag: "profiles",
      summary: "Create a sandbox profile with an empty draft (version 1)",
      body: createBody,
      responses: { 201: "created", 400: "invalid body", 403: "admins only", 409: "already exists" },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const { name } = parse(createBody, req.body);
      await createProfile(db, actor.orgId, name);
      return reply.code(201).send(await getProfileViewOrThrow(db, actor.orgId, name));
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/profiles/:name",
      tag: "profiles",
      summary:
        "A profile's draft and published versions, each with its newest snapshot, and what a field left out defaults to",
      responses: { 200: "ok", 404: "unknown profile" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      const view = await getProfileViewOrThrow(
        db,
        actor.orgId,
        parse(params, req.params, "path").name,
      );
      return { ...view, defaults: profileDefaults(deps.config) };
    },
  );

  declare(
    {
      method: "PUT",
      url: "/api/profiles/:name/draft",
      tag: "profiles",
      summary: "Replace the draft's spec",
      body: draftBody,
      responses: {
        200: "updated",
        400: "invalid body",
        403: "admins only",
        404: "unknown profile",
      },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const { name } = parse(params, req.params, "path");
      return updateDraft(db, actor.orgId, name, parse(draftBody, req.body).spec, permissions);
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/profiles/:name/publish",
      tag: "profiles",
      summary:
        "Publish the draft and build its snapshot (or ask again for the newest version's snapshot)",
      responses: {
        202: "snapshot queued, running or ready",
        403: "admins only",
        404: "unknown profile",
      },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const { name } = parse(params, req.params, "path");
      const logger = requestLogger(req, { orgId: actor.orgId });
      const version = await publishProfile(
        { db, queues: deps.queues, logger, clock: deps.clock },
        actor.orgId,
        name,
        permissions,
      );
      return reply.code(202).send(version);
    },
  );

  declare(
    {
      method: "PATCH",
      url: "/api/profiles/:name",
      tag: "profiles",
      summary:
        "Activate or deactivate a profile, or set its snapshot refresh schedule (refreshCron: cron in UTC, null for none)",
      body: patchBody,
      responses: {
        200: "updated",
        400: "invalid body or cron",
        403: "admins only",
        404: "unknown profile",
        503: "the schedule could not be saved",
      },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const { name } = parse(params, req.params, "path");
      const body = parse(patchBody, req.body);
      const refreshCron =
        typeof body.refreshCron === "string"
          ? parseRefreshCronOrThrow(body.refreshCron)
          : body.refreshCron;
      const logger = requestLogger(req, { orgId: actor.orgId });
      await updateProfile(
        { db, queues: deps.queues, logger, clock: deps.clock },
        actor.orgId,
        name,
        { active: body.active, refreshCron },
      );
      return getProfileViewOrThrow(db, actor.orgId, name);
    },
  );

  declare(
    {
      method: "DELETE",
      url: "/api/profiles/:name",
      tag: "profiles",
      summary: "Delete a profile no session started on, with its versions, snapshots and schedule",
      responses: {
        204: "deleted",
        403: "admins only",
        404: "unknown profile",
        409: "the default profile, one with sessions, or a build running",
      },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const { name } = parse(params, req.params, "path");
      await deleteProfile(
        {
          db,
          queues: deps.queues,
          logger: requestLogger(req, { orgId: actor.orgId }),
          clock: deps.clock,
        },
        actor.orgId,
        name,
      );
      return reply.code(204).send();
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/profiles/:name/refresh",
      tag: "profiles",
      summary:
        "Rebuild the newest published version's snapshot (the one queued or running, if any)",
      responses: {
        202: "snapshot queued, running or ready",
        403: "admins only",
        404: "unknown profile",
        409: "nothing published",
      },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const { name } = parse(params, req.params, "path");
      const logger = requestLogger(req, { orgId: actor.orgId });
      const refreshed = await refreshProfile(
        { db, queues: deps.queues, logger, clock: deps.clock },
        { orgId: actor.orgId, name },
        "refresh",
      );
      return reply.code(202).send(refreshed);
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/profiles/:name/versions/:version/snapshots",
      tag: "profiles",
      summary: "A version's snapshots, newest first, with status, trigger and log",
      responses: { 200: "ok", 400: "bad version", 404: "unknown profile or version" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      const { name, version } = parse(versionParams, req.params, "path");
      return listVersionSnapshotsOrThrow(db, actor.orgId, name, version);
    },
  );
}
