import { and, desc, eq, inArray, lt, lte, sql } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { repositories, sessionEvents, sessions, sessionTurns } from "../db/schema.ts";
import { eventRowBody } from "../events/log.ts";
import type { SessionEventBody } from "../events/types.ts";
import { queuePosition, sessionUrl } from "../sessions/service.ts";
import type { SessionStatus } from "../sessions/state.ts";

type Body<T extends SessionEventBody["type"]> = Extract<SessionEventBody, { type: T }>;
/** One thing the agent did: a command it ran or a file it changed. */
export type AgentStep = Body<"command"> | Body<"file_change">;
/** One file of a `diff_stat` event. */
export type FileStat = Body<"diff_stat">["files"][number];

/** What a turn that ended left: what the agent said, the files it changed, the problems on the way. */
export interface TurnResult {
  /** The agent's turn itself failed (it exited with an error); `problems` says why. */
  failed: boolean;
  said: string;
  /** Null when the turn left no diff stat (the agent did not get that far). */
  files: FileStat[] | null;
  problems: string[];
}

/**
 * A session's status as every reporter shows it (the one read model; providers only render it):
 * where it is, what the agent is doing in the current turn, and once the turn has ended, its result.
 */
export interface SessionStatusView {
  sessionId: string;
  url: string;
  status: SessionStatus;
  repository: string;
  /** Its place among the org's waiting sessions while queued. */
  queuePosition: number | null;
  /** Since the session was created, to its end (or now). */
  elapsedMs: number;
  error: string | null;
  branch: string | null;
  pullRequestUrl: string | null;
  /** The agent's latest plan in the current turn, if it made one. */
  plan: Body<"plan">["steps"] | null;
  /** The current turn's commands and edits, oldest first (the last `MAX_STEPS`). */
  steps: AgentStep[];
  /** The latest step or plan of the current turn. */
  latest?: AgentStep | Body<"plan">;
  /** Once the turn has ended (idle, failed, stopped). */
  turn?: TurnResult;
}

const MAX_STEPS = 50;
const TURN_TYPES = ["plan", "command", "file_change", "message", "error", "diff_stat"];
const ENDED: readonly string[] = ["idle", "failed", "stopped"];

/** The seq of the `running` status that started the turn (before `beforeSeq`), 0 for none. */
async function turnStart(db: Db, sessionId: string, beforeSeq?: number): Promise<number> {
  const [start] = await db
    .select({ seq: sql<number>`coalesce(max(${sessionEvents.seq}), 0)::int` })
    .from(sessionEvents)
    .where(
      and(
        eq(sessionEvents.sessionId, sessionId),
        eq(sessionEvents.type, "status"),
        sql`${sessionEvents.data}->>'status' = 'running'`,
        beforeSeq === undefined ? undefined : lt(sessionEvents.seq, beforeSeq),
      ),
    );
  return start?.seq ?? 0;
}

/** The bodies of one turn's events of `types` (after `startSeq`, up to `endSeq`), oldest first, the last 500. */
async function turnBodies(
  db: Db,
  sessionId: string,
  startSeq: number,
  types: string[],
  endSeq?: number,
): Promise<SessionEventBody[]> {
  const rows = await db
    .select()
    .from(sessionEvents)
    .where(
      and(
        eq(sessionEvents.sessionId, sessionId),
        sql`${sessionEvents.seq} > ${startSeq}`,
        endSeq === undefined ? undefined : lte(sessionEvents.seq, endSeq),
        inArray(sessionEvents.type, types),
      ),
    )
    .orderBy(desc(sessionEvents.seq))
    .limit(500);
  return rows.reverse().map(eventRowBody);
}

/** Whether the session's latest turn failed. */
async function lastTurnFailed(db: Db, sessionId: string): Promise<boolean> {
  const [turn] = await db
    .select({ status: sessionTurns.status })
    .from(sessionTurns)
    .where(eq(sessionTurns.sessionId, sessionId))
    .orderBy(desc(sessionTurns.number))
    .limit(1);
  return turn?.status === "failed";
}

function turnResult(bodies: SessionEventBody[], failed: boolean): TurnResult {
  const said = bodies
    .flatMap((b) => (b.type === "message" && b.role === "assistant" ? [b.text] : []))
    .join("\n\n");
  const diff = bodies.filter((b): b is Body<"diff_stat"> => b.type === "diff_stat").at(-1);
  return {
    failed,
    said,
    files: diff ? diff.files : null,
    problems: bodies.flatMap((b) => (b.type === "error" ? [b.message] : [])),
  };
}

const isStep = (b: SessionEventBody): b is AgentStep =>
  b.type === "command" || b.type === "file_change";

/** A session's status for its reporters, read from its row and its current turn's events. */
export async function loadSessionStatus(
  db: Db,
  clock: Clock,
  publicUrl: string,
  sessionId: string,
): Promise<SessionStatusView | null> {
  const [row] = await db
    .select({ session: sessions, repository: repositories.name })
    .from(sessions)
    .innerJoin(repositories, eq(repositories.id, sessions.repositoryId))
    .where(eq(sessions.id, sessionId));
  if (!row) return null;
  const { session } = row;
  const bodies = await turnBodies(db, sessionId, await turnStart(db, sessionId), TURN_TYPES);
  const plan = bodies.filter((b): b is Body<"plan"> => b.type === "plan").at(-1);
  const latest = bodies.filter((b) => isStep(b) || b.type === "plan").at(-1) as
    SessionStatusView["latest"] | undefined;
  const end = session.endedAt ?? clock.now();
  return {
    sessionId,
    url: sessionUrl(publicUrl, sessionId),
    status: session.status as SessionStatus,
    repository: row.repository,
    queuePosition: await queuePosition(db, session),
    elapsedMs: end.getTime() - session.createdAt.getTime(),
    error: session.error,
    branch: session.branch,
    pullRequestUrl: session.pullRequestUrl,
    plan: plan?.steps ?? null,
    steps: bodies.filter(isStep).slice(-MAX_STEPS),
    latest,
    turn: ENDED.includes(session.status)
      ? turnResult(bodies, await lastTurnFailed(db, sessionId))
      : undefined,
  };
}

/** What the turn that the status event `seq` ended did (the events from its `running` status to `seq`). */
export async function loadTurnResult(db: Db, sessionId: string, seq: number): Promise<TurnResult> {
  const start = await turnStart(db, sessionId, seq);
  const bodies = await turnBodies(db, sessionId, start, ["message", "error", "diff_stat"], seq);
  return turnResult(bodies, await lastTurnFailed(db, sessionId));
}
