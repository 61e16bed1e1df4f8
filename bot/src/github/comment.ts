import { and, desc, eq, inArray, sql } from "drizzle-orm";
import {
  clip,
  eventRowBody,
  schema,
  sessionUrl,
  unwrapShell,
  type Db,
  type SessionEventBody,
} from "@tandem/core";

const code = (s: string) => `\`${clip(s.replace(/`/g, "'").split("\n")[0]!, 80)}\``;

const STATE: Record<string, string> = {
  queued: "⏳ Queued",
  starting: "🚀 Starting",
  running: "⚙️ Working",
  idle: "✅ Done",
  stopped: "⏹️ Stopped",
  failed: "❌ Failed",
};

export interface FileStat {
  path: string;
  added: number;
  removed: number;
}

/** What the tracking comment shows; read from the session's log when the comment is rendered. */
export interface TrackingSnapshot {
  url: string;
  status: string;
  checklist: Array<{ text: string; done: boolean }>;
  /** Once a turn has ended: what the agent said, the files changed, problems. */
  summary?: { said: string; files: FileStat[] | null; problems: string[] };
  pullRequestUrl: string | null;
  error: string | null;
}

/** One line per agent step, for the checklist when the agent has no plan. */
function stepLine(body: SessionEventBody): string | undefined {
  if (body.type === "command") return `ran ${code(unwrapShell(body.command))}`;
  if (body.type === "file_change")
    return `${body.kind === "add" ? "created" : body.kind === "delete" ? "deleted" : "edited"} ${code(body.path)}`;
  return undefined;
}

export async function loadTrackingSnapshot(
  db: Db,
  publicUrl: string,
  sessionId: string,
): Promise<TrackingSnapshot | null> {
  const session = await db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId) });
  if (!session) return null;
  const ev = schema.sessionEvents;
  // The current (or last) turn starts at the latest `running` status.
  const [start] = await db
    .select({ seq: sql<number>`coalesce(max(${ev.seq}), 0)::int` })
    .from(ev)
    .where(
      and(
        eq(ev.sessionId, sessionId),
        eq(ev.type, "status"),
        sql`${ev.data}->>'status' = 'running'`,
      ),
    );
  const rows = await db
    .select()
    .from(ev)
    .where(
      and(
        eq(ev.sessionId, sessionId),
        sql`${ev.seq} > ${start?.seq ?? 0}`,
        inArray(ev.type, ["plan", "command", "file_change", "message", "error", "diff_stat"]),
      ),
    )
    .orderBy(desc(ev.seq))
    .limit(500);
  const bodies = rows.reverse().map(eventRowBody);
  const plan = bodies
    .filter((b): b is Extract<SessionEventBody, { type: "plan" }> => b.type === "plan")
    .at(-1);
  const steps = bodies.flatMap((b) => {
    const line = stepLine(b);
    return line ? [line] : [];
  });
  const working = session.status === "running" || session.status === "starting";
  const checklist = plan
    ? plan.steps.map((s) => ({ text: clip(s.text, 120), done: s.done }))
    : steps.slice(-8).map((text, i, all) => ({ text, done: !working || i < all.length - 1 }));
  let summary: TrackingSnapshot["summary"];
  if (session.status === "idle" || session.status === "failed" || session.status === "stopped") {
    const said = bodies
      .flatMap((b) => (b.type === "message" && b.role === "assistant" ? [b.text] : []))
      .join("\n\n");
    const diff = bodies
      .filter((b): b is Extract<SessionEventBody, { type: "diff_stat" }> => b.type === "diff_stat")
      .at(-1);
    summary = {
      said,
      files: diff ? diff.files : null,
      problems: bodies.flatMap((b) => (b.type === "error" ? [b.message] : [])),
    };
  }
  return {
    url: sessionUrl(publicUrl, sessionId),
    status: session.status,
    checklist,
    summary,
    pullRequestUrl: session.pullRequestUrl,
    error: session.error,
  };
}

/** The tracking comment's Markdown: state, checklist, then (after a turn) the summary, files and PR. Always the link. */
export function renderTrackingComment(s: TrackingSnapshot): string {
  const lines = [`**Tandem** · ${STATE[s.status] ?? s.status} · [View session](${s.url})`, ""];
  if (s.checklist.length > 0) {
    for (const item of s.checklist) lines.push(`- [${item.done ? "x" : " "}] ${item.text}`);
    lines.push("");
  }
  if (s.summary) {
    if (s.summary.said.trim()) lines.push(clip(s.summary.said.trim(), 3_000), "");
    const files = s.summary.files ?? [];
    if (files.length > 0) {
      const added = files.reduce((n, f) => n + f.added, 0);
      const removed = files.reduce((n, f) => n + f.removed, 0);
      lines.push(
        `**${files.length} file${files.length === 1 ? "" : "s"} changed** (+${added} −${removed})`,
      );
      for (const f of files.slice(0, 30)) lines.push(`- \`${f.path}\` +${f.added} −${f.removed}`);
      if (files.length > 30) lines.push(`- … and ${files.length - 30} more`);
      lines.push("");
    } else if (s.summary.files) {
      lines.push("No files changed.", "");
    }
    for (const p of s.summary.problems.slice(-3)) lines.push(`> ⚠️ ${clip(p, 300)}`);
    if (s.summary.problems.length > 0) lines.push("");
  }
  if (s.status === "failed" && s.error) lines.push(`> ❌ ${clip(s.error, 300)}`, "");
  if (s.pullRequestUrl) lines.push(`Pull request: ${s.pullRequestUrl}`, "");
  lines.push(`<sub>[View session](${s.url}) · mention me here to continue</sub>`);
  return lines.join("\n");
}
