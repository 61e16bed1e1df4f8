import { and, desc, eq, gt, inArray, lt, lte, sql } from "drizzle-orm";
import {
  clip,
  eventRowBody,
  queuePosition,
  schema,
  sessionUrl,
  unwrapShell,
  type Clock,
  type Db,
  type SessionEventBody,
} from "@tandem/core";
import type { FileStat, StatusSnapshot, TurnSummary } from "./blocks.ts";

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

export async function loadStatusSnapshot(
  db: Db,
  clock: Clock,
  publicUrl: string,
  sessionId: string,
): Promise<StatusSnapshot | null> {
  const [row] = await db
    .select({ session: schema.sessions, repository: schema.repositories.name })
    .from(schema.sessions)
    .innerJoin(schema.repositories, eq(schema.repositories.id, schema.sessions.repositoryId))
    .where(eq(schema.sessions.id, sessionId));
  if (!row) return null;
  const { session } = row;
  let step: string | undefined;
  if (session.status === "running") {
    const [last] = await db
      .select()
      .from(schema.sessionEvents)
      .where(
        and(
          eq(schema.sessionEvents.sessionId, sessionId),
          inArray(schema.sessionEvents.type, ["command", "file_change", "plan"]),
        ),
      )
      .orderBy(desc(schema.sessionEvents.seq))
      .limit(1);
    step = last ? describeStep(eventRowBody(last)) : undefined;
  }
  const end = session.endedAt ?? clock.now();
  return {
    sessionId,
    status: session.status,
    repository: row.repository,
    queuePosition: await queuePosition(db, session),
    step,
    elapsedMs: end.getTime() - session.createdAt.getTime(),
    error: session.error,
    url: sessionUrl(publicUrl, sessionId),
  };
}

/**
 * What one turn did: the events after the turn's `running` status up to the status event `seq`
 * that ended it (idle or failed).
 */
export async function loadTurnSummary(
  db: Db,
  publicUrl: string,
  sessionId: string,
  seq: number,
): Promise<TurnSummary | null> {
  const session = await db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId) });
  if (!session) return null;
  const [start] = await db
    .select({ seq: sql<number>`coalesce(max(${schema.sessionEvents.seq}), 0)::int` })
    .from(schema.sessionEvents)
    .where(
      and(
        eq(schema.sessionEvents.sessionId, sessionId),
        lt(schema.sessionEvents.seq, seq),
        eq(schema.sessionEvents.type, "status"),
        sql`${schema.sessionEvents.data}->>'status' = 'running'`,
      ),
    );
  const rows = await db
    .select()
    .from(schema.sessionEvents)
    .where(
      and(
        eq(schema.sessionEvents.sessionId, sessionId),
        gt(schema.sessionEvents.seq, start?.seq ?? 0),
        lte(schema.sessionEvents.seq, seq),
        inArray(schema.sessionEvents.type, ["message", "error", "diff_stat"]),
      ),
    )
    .orderBy(schema.sessionEvents.seq);
  const bodies = rows.map(eventRowBody);
  const said = bodies
    .flatMap((b) => (b.type === "message" && b.role === "assistant" ? [b.text] : []))
    .join("\n\n");
  const problems = bodies.flatMap((b) => (b.type === "error" ? [b.message] : []));
  const diff = bodies
    .filter((b): b is Extract<SessionEventBody, { type: "diff_stat" }> => b.type === "diff_stat")
    .at(-1);
  const files: FileStat[] | null = diff ? diff.files : null;
  return { url: sessionUrl(publicUrl, sessionId), said, files, branch: session.branch, problems };
}
