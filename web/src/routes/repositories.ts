import { z } from "zod";
import {
  badRequest,
  deleteRepository,
  findRepositoryOrThrow,
  listRepositories,
  probeRemote,
  registerRepository,
  remoteProblem,
  repositoryCredential,
  repositoryInput,
  repositoryPatch,
  repositoryView,
  requireAdmin,
  updateRepository,
} from "@tandem/core";
import { requireActor } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { parse } from "../http.ts";
import type { Declare } from "./declare.ts";

export function repositoryRoutes(declare: Declare, deps: WebDeps) {
  const { db } = deps.database;

  declare(
    {
      method: "POST",
      url: "/api/repositories",
      tag: "repositories",
      summary: "Register a git remote (https, ssh, or file with the local sandbox provider)",
      body: repositoryInput,
      responses: { 201: "registered", 400: "invalid body", 409: "already registered" },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const input = parse(repositoryInput, req.body);
      const problem = remoteProblem(input.cloneUrl, deps.config.SANDBOX_PROVIDER);
      if (problem) throw badRequest(problem);
      const repo = await registerRepository(db, actor.orgId, input, deps.config.ENCRYPTION_KEY);
      return reply.code(201).send({ id: repo.id, name: repo.name });
    },
  );

  declare(
    {
      method: "GET",
      url: "/api/repositories",
      tag: "repositories",
      summary: "Repositories of the organization",
      responses: { 200: "ok" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      return { repositories: (await listRepositories(db, actor.orgId)).map(repositoryView) };
    },
  );

  const params = z.object({ id: z.string() });
  /** The caller's org's repository, for an owner or admin. */
  const adminRepository = async (req: Parameters<typeof requireActor>[1]) => {
    const actor = await requireActor(deps, req);
    requireAdmin(actor);
    const { id } = parse(params, req.params, "path");
    return findRepositoryOrThrow(db, actor.orgId, id);
  };

  declare(
    {
      method: "PATCH",
      url: "/api/repositories/:id",
      tag: "repositories",
      summary: "Change a repository's remote, default branch or credential (null removes it)",
      body: repositoryPatch,
      responses: { 200: "changed", 400: "invalid body", 404: "not in your organization" },
    },
    async (req) => {
      const repo = await adminRepository(req);
      const patch = parse(repositoryPatch, req.body);
      const problem = patch.cloneUrl && remoteProblem(patch.cloneUrl, deps.config.SANDBOX_PROVIDER);
      if (problem) throw badRequest(problem);
      return repositoryView(await updateRepository(db, repo, patch, deps.config.ENCRYPTION_KEY));
    },
  );

  declare(
    {
      method: "DELETE",
      url: "/api/repositories/:id",
      tag: "repositories",
      summary: "Remove a repository that no session works in",
      responses: { 204: "removed", 404: "not in your organization", 409: "sessions use it" },
    },
    async (req, reply) => {
      await deleteRepository(db, await adminRepository(req));
      return reply.code(204).send();
    },
  );

  declare(
    {
      method: "POST",
      url: "/api/repositories/:id/test",
      tag: "repositories",
      summary:
        "Ask the remote for its branches with the stored credential (git ls-remote); git's whole error when it fails",
      responses: {
        200: "the result: ok, the remote's head, whether the default branch exists, the error",
      },
    },
    async (req) => {
      const repo = await adminRepository(req);
      const problem = remoteProblem(repo.cloneUrl, deps.config.SANDBOX_PROVIDER);
      if (problem)
        return { ok: false, head: null, branchFound: false, error: problem, durationMs: 0 };
      return probeRemote(repo, repositoryCredential(deps.config.ENCRYPTION_KEY, repo));
    },
  );
}
