import { z } from "zod";
import {
  addMember,
  createOrganization,
  forbidden,
  getOrgSettings,
  updateOrgSettings,
  issueToken,
  listApiTokens,
  listMembers,
  listOrganizationsForUser,
  notFound,
  LOGIN_LINK_TTL_MS,
  profileDefaults,
  removeMember,
  requireAdmin,
  revokeApiToken,
  updateMemberRole,
} from "@tandem/core";
import { requireActor, requireUser } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { parse } from "../http.ts";
import type { Declare } from "./declare.ts";

const role = z.enum(["owner", "admin", "member"]);
const createOrgBody = z.strictObject({ name: z.string().trim().min(1).max(100) });
const addMemberBody = z.strictObject({
  email: z.email({ error: "expected an email address" }),
  name: z.string().trim().min(1).max(100).optional(),
  role: role.default("member"),
});
const updateMemberBody = z.strictObject({ role });
const createTokenBody = z.strictObject({
  name: z.string().trim().min(1).max(100).default("api"),
  /** Days until it stops working; without one it works until revoked. */
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});
const tokenParams = z.object({ id: z.uuid({ error: "token id must be a UUID" }) });
const DAY_MS = 24 * 60 * 60 * 1000;
const tokenBudget = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional();
const settingsBody = z.strictObject({
  concurrencyLimit: z.number().int().min(1).max(1_000).optional(),
  allowPersistentSandboxes: z.boolean().optional(),
  /** Model tokens (input + output); null is unlimited. */
  monthlyTokenBudget: tokenBudget,
  sessionTokenBudget: tokenBudget,
});
const orgParams = z.object({ orgId: z.uuid({ error: "orgId must be a UUID" }) });
const memberParams = orgParams.extend({ userId: z.uuid({ error: "userId must be a UUID" }) });

export function orgRoutes(declare: Declare, deps: WebDeps) {
  const { db } = deps.database;
  const loginUrl = (token: string) => `${deps.config.PUBLIC_URL.replace(/\/$/, "")}/login/${token}`;

  declare(
    {
      method: "GET",
      url: "/api/me",
      tag: "orgs",
      summary: "The caller and their organizations",
      responses: { 200: "ok", 401: "no token" },
    },
    async (req) => {
      const userId = await requireUser(deps, req);
      return { userId, organizations: await listOrganizationsForUser(db, userId) };
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/tokens",
      tag: "orgs",
      summary: "Create a bearer token for the caller (shown once)",
      body: createTokenBody,
      responses: { 201: "created" },
    },
    async (req, reply) => {
      const userId = await requireUser(deps, req);
      const body = parse(createTokenBody, req.body);
      const { id, token } = await issueToken(db, deps.clock, {
        userId,
        kind: "api",
        name: body.name,
        ...(body.expiresInDays ? { ttlMs: body.expiresInDays * DAY_MS } : {}),
      });
      const [view] = (await listApiTokens(db, userId)).filter((t) => t.id === id);
      return reply.code(201).send({ ...view, token });
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/tokens",
      tag: "orgs",
      summary: "The caller's API tokens: name, created, expiry, last use (never the token)",
      responses: { 200: "ok", 401: "no token" },
    },
    async (req) => ({ tokens: await listApiTokens(db, await requireUser(deps, req)) }),
  );

  declare(
    {
      method: "DELETE",
      url: "/api/tokens/:id",
      tag: "orgs",
      summary: "Revoke one of the caller's API tokens; it stops working at once",
      responses: { 204: "revoked", 404: "no such token of yours" },
    },
    async (req, reply) => {
      const userId = await requireUser(deps, req);
      const { id } = parse(tokenParams, req.params, "path");
      if (!(await revokeApiToken(db, userId, id))) throw notFound("API token");
      return reply.code(204).send();
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/orgs",
      tag: "orgs",
      summary: "Organizations the caller belongs to",
      responses: { 200: "ok" },
    },
    async (req) => ({
      organizations: await listOrganizationsForUser(db, await requireUser(deps, req)),
    }),
  );

  declare(
    {
      method: "POST",
      url: "/api/orgs",
      tag: "orgs",
      summary: "Create an organization; the caller becomes its owner",
      body: createOrgBody,
      responses: { 201: "created", 400: "invalid body" },
    },
    async (req, reply) => {
      const userId = await requireUser(deps, req);
      const body = parse(createOrgBody, req.body);
      const org = await createOrganization(db, { name: body.name, ownerUserId: userId });
      return reply.code(201).send({ id: org.id, name: org.name, slug: org.slug });
    },
  );

  const settingsView = (s: Awaited<ReturnType<typeof getOrgSettings>>) => ({
    concurrencyLimit: s.concurrencyLimit,
    allowPersistentSandboxes: s.allowPersistentSandboxes,
    monthlyTokenBudget: s.monthlyTokenBudget,
    sessionTokenBudget: s.sessionTokenBudget,
  });

  declare(
    {
      method: "GET",
      url: "/api/orgs/:orgId/settings",
      tag: "orgs",
      summary: "Organization settings, with the instance's per-sandbox default limits",
      responses: { 200: "ok", 404: "not a member" },
    },
    async (req) => {
      const { orgId } = parse(orgParams, req.params, "path");
      const actor = await requireActor(deps, req, orgId);
      // The instance's per-sandbox limits beside the org's own, for Settings to show.
      return {
        ...settingsView(await getOrgSettings(db, actor.orgId)),
        sandboxDefaults: profileDefaults(deps.config).limits,
      };
    },
  );

  declare(
    {
      method: "PATCH",
      url: "/api/orgs/:orgId/settings",
      tag: "orgs",
      summary:
        "Change settings: concurrencyLimit (sessions running at once), allowPersistentSandboxes, monthlyTokenBudget (org, per calendar month UTC) and sessionTokenBudget (model tokens; null is unlimited)",
      body: settingsBody,
      responses: { 200: "updated", 403: "not an admin" },
    },
    async (req) => {
      const { orgId } = parse(orgParams, req.params, "path");
      const actor = await requireActor(deps, req, orgId);
      requireAdmin(actor);
      return settingsView(await updateOrgSettings(db, actor.orgId, parse(settingsBody, req.body)));
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/orgs/:orgId/members",
      tag: "orgs",
      summary: "Members of an organization",
      responses: { 200: "ok", 404: "not a member" },
    },
    async (req) => {
      const { orgId } = parse(orgParams, req.params, "path");
      const actor = await requireActor(deps, req, orgId);
      return { members: await listMembers(db, actor.orgId) };
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/orgs/:orgId/members",
      tag: "orgs",
      summary: "Add a member; a new user gets a one-time login link",
      body: addMemberBody,
      responses: { 201: "added", 403: "not an admin", 409: "already a member" },
    },
    async (req, reply) => {
      const { orgId } = parse(orgParams, req.params, "path");
      const actor = await requireActor(deps, req, orgId);
      requireAdmin(actor);
      const body = parse(addMemberBody, req.body);
      if (body.role === "owner" && actor.role !== "owner") requireOwner();
      const member = await addMember(db, actor.orgId, body);
      const login = member.created
        ? await issueToken(db, deps.clock, {
            userId: member.userId,
            kind: "login",
            ttlMs: LOGIN_LINK_TTL_MS,
          })
        : null;
      return reply.code(201).send({
        userId: member.userId,
        email: member.email,
        name: member.name,
        role: member.role,
        ...(login ? { loginUrl: loginUrl(login.token) } : {}),
      });
    },
  );

  declare(
    {
      method: "PATCH",
      url: "/api/orgs/:orgId/members/:userId",
      tag: "orgs",
      summary: "Change a member's role",
      body: updateMemberBody,
      responses: { 200: "updated", 403: "not an admin" },
    },
    async (req) => {
      const { orgId, userId } = parse(memberParams, req.params, "path");
      const actor = await requireActor(deps, req, orgId);
      requireAdmin(actor);
      const body = parse(updateMemberBody, req.body);
      if (body.role === "owner" && actor.role !== "owner") requireOwner();
      const row = await updateMemberRole(db, actor, userId, body.role);
      return { userId: row.userId, role: row.role };
    },
  );

  declare(
    {
      method: "DELETE",
      url: "/api/orgs/:orgId/members/:userId",
      tag: "orgs",
      summary: "Remove a member",
      responses: { 204: "removed", 403: "not an admin" },
    },
    async (req, reply) => {
      const { orgId, userId } = parse(memberParams, req.params, "path");
      const actor = await requireActor(deps, req, orgId);
      if (userId !== actor.userId) requireAdmin(actor);
      await removeMember(db, actor, userId);
      return reply.code(204).send();
    },
  );
}

function requireOwner(): never {
  throw forbidden("only an owner can make someone an owner");
}
