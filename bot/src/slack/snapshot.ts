import { eq } from "drizzle-orm";
import {
  clip,
  loadSessionStatus,
  loadTurnResult,
  schema,
  sessionUrl,
  unwrapShell,
  type Clock,
  type Db,
  type SessionEventBody,
} from "@tandem/core";
import type { StatusSnapshot, TurnSummary } from "./blocks.ts";

/** A one-line description of an agent step, for the status message. */
export function describeStep(body: SessionEventBody): string | undefined {
  switch (body.type) {
    case "command": {
      return `\`${clip(unwrapShell(body.command).split("\n")[0]!.replace(/`/g, "'"), 80)}\``;
    }
    case "file_change":
      return `${body.kind === "add" ? "created" : body.kind === "delete" ? "deleted" : "edited"} \`${clip(body.path, 80)}\``;
    case "plan": {
      const next = body.steps.findIndex((s) => !s.done);
      if (next < 0) return undefined;
      return `plan step ${next + 1}/${body.steps.length}: ${clip(body.steps[next]!.text, 80)}`;
    }
    default:
      return undefined;
  }
}

/** The status message's content, from the session's status view. */
export async function loadStatusSnapshot(
  db: Db,
  clock: Clock,
  publicUrl: string,
  sessionId: string,
): Promise<StatusSnapshot | null> {
  const view = await loadSessionStatus(db, clock, publicUrl, sessionId);
  if (!view) return null;
  return {
    sessionId,
    status: view.status,
    repository: view.repository,
    queuePosition: view.queuePosition,
    step: view.status === "running" && view.latest ? describeStep(view.latest) : undefined,
    elapsedMs: view.elapsedMs,
    error: view.error,
    url: view.url,
  };
}

/** What one turn did, up to the status event `seq` that ended it (idle or failed). */
export async function loadTurnSummary(
  db: Db,
  publicUrl: string,
  sessionId: string,
  seq: number,
): Promise<TurnSummary | null> {
  const session = await db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId) });
  if (!session) return null;
  const result = await loadTurnResult(db, sessionId, seq);
  return { url: sessionUrl(publicUrl, sessionId), ...result, branch: session.branch };
}
