import {
  listRepositories,
  registerRepository,
  repositoryInput,
  repositoryView,
  requireAdmin,
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
      summary: "Register a git remote (https, ssh or file)",
      body: repositoryInput,
      responses: { 201: "registered", 400: "invalid body", 409: "already registered" },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const repo = await registerRepository(
        db,
        actor.orgId,
        parse(repositoryInput, req.body),
        deps.config.ENCRYPTION_KEY,
      );
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
}
