import { and, eq, isNull } from "drizzle-orm";
import {
  AppError,
  conflict,
  getSessionOrThrow,
  sandboxCommandEnv,
  schema,
  type SandboxLayout,
  type SandboxProvider,
  type Session,
} from "@tandem/core";
import type { FastifyRequest } from "fastify";
import { requireActor } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { parse } from "../http.ts";
import { sessionParams } from "../routes/sessions.ts";

/** The session's running sandbox as the workbench sees it. */
export interface LiveSandbox {
  session: Session;
  provider: SandboxProvider;
  id: string;
  layout: SandboxLayout;
  /** The primary repository's checkout, `<workspace>/<owner>/<repo>`. */
  workdir: string;
  defaultBranch: string;
  env: Record<string, string>;
}

/** The environment of a person's shell in the sandbox: Tandem's own commands' one, plus a terminal. */
const workbenchEnv = (layout: SandboxLayout): Record<string, string> => ({
  ...sandboxCommandEnv(layout),
  TERM: "xterm-256color",
  COLORTERM: "truecolor",
  LANG: "C.UTF-8",
});

/** The session of the request's `:id`, in the caller's org (404 for everyone else). */
export async function requireSession(deps: WebDeps, req: FastifyRequest): Promise<Session> {
  const actor = await requireActor(deps, req);
  const { id } = parse(sessionParams, req.params, "path");
  return getSessionOrThrow(deps.database.db, actor.orgId, id);
}

/**
 * The session's sandbox, only if it is running: the web process never starts a sandbox (the
 * worker owns its lifecycle, and a message is what wakes an idle one).
 */
export async function liveSandboxOrThrow(deps: WebDeps, session: Session): Promise<LiveSandbox> {
  const provider = deps.sandboxes;
  if (!provider)
    throw new AppError(
      "sandbox_unavailable",
      "this web process has no sandbox provider configured",
      503,
    );
  const { db } = deps.database;
  const row = await db.query.sandboxes.findFirst({
    where: and(eq(schema.sandboxes.sessionId, session.id), isNull(schema.sandboxes.removedAt)),
  });
  if (!row?.externalId)
    throw conflict("the session has no sandbox yet; it starts with the first turn");
  const info = await provider.inspect(row.externalId);
  if (info.state === "stopped") throw conflict("sandbox is stopped; send a message to wake it");
  if (info.state === "missing") {
    throw conflict(
      row.persistent
        ? "the session's sandbox is gone, but its files are kept; send a message to bring it back"
        : "the session's sandbox no longer exists",
    );
  }
  const repo = await db.query.repositories.findFirst({
    where: eq(schema.repositories.id, session.repositoryId),
  });
  if (!repo) throw conflict("the session's repository was removed");
  const layout = provider.layout(row.externalId);
  return {
    session,
    provider,
    id: row.externalId,
    layout,
    workdir: `${layout.workspace}/${repo.name}`,
    defaultBranch: repo.defaultBranch,
    env: workbenchEnv(layout),
  };
}
