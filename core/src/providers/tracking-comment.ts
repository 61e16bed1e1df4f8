import { and, eq } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { outboundMessages } from "../db/schema.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../logger.ts";
import type { SessionStatus } from "../sessions/state.ts";
import { unwrapShell } from "../util/shell.ts";
import { clip } from "../util/text.ts";
import { followBoundSessions } from "./follower.ts";
import { loadSessionStatus, type AgentStep, type TurnResult } from "./status.ts";

// The one comment a session keeps on an issue (GitHub, Jira), edited in place: written in
// Markdown here; a provider whose comments are not Markdown converts it (Jira: to ADF).

const code = (s: string) => `\`${clip(s.replace(/`/g, "'").split("\n")[0]!, 80)}\``;

const STATE: Record<string, string> = {
  queued: "⏳ Queued",
  starting: "🚀 Starting",
  running: "⚙️ Working",
  idle: "✅ Done",
  stopped: "⏹️ Stopped",
  failed: "❌ Failed",
};

/** What the tracking comment shows; read from the session's log when the comment is rendered. */
export interface TrackingSnapshot {
  url: string;
  status: string;
  checklist: Array<{ text: string; done: boolean }>;
  /** Once a turn has ended: what the agent said, the files changed, problems. */
  summary?: TurnResult;
  pullRequestUrl: string | null;
  error: string | null;
}

/** One line per agent step, for the checklist when the agent has no plan. */
function stepLine(step: AgentStep): string {
  if (step.type === "command") return `ran ${code(unwrapShell(step.command))}`;
  const verb = step.kind === "add" ? "created" : step.kind === "delete" ? "deleted" : "edited";
  return `${verb} ${code(step.path)}`;
}

/** The tracking comment's content: the plan, or the last steps, and the turn's result once it ended. */
export async function loadTrackingSnapshot(
  db: Db,
  clock: Clock,
  publicUrl: string,
  sessionId: string,
): Promise<TrackingSnapshot | null> {
  const view = await loadSessionStatus(db, clock, publicUrl, sessionId);
  if (!view) return null;
  const working = view.status === "running" || view.status === "starting";
  const lines = view.steps.map(stepLine).slice(-8);
  const checklist = view.plan
    ? view.plan.map((s) => ({ text: clip(s.text, 120), done: s.done }))
    : lines.map((text, i) => ({ text, done: !working || i < lines.length - 1 }));
  return {
    url: view.url,
    status: view.status,
    checklist,
    summary: view.turn,
    pullRequestUrl: view.pullRequestUrl,
    error: view.error,
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

/** The `outbound_messages` kind of a session's tracking comment. */
export const TRACKING_COMMENT = "tracking";

/**
 * The follower of a provider that keeps one tracking comment per session: every event asks for
 * the comment's edit (coalesced per window), a turn end for the final one (`summary`). A turn end
 * whose comment was last written before it is caught up from the event log.
 */
export function followTrackingComments(deps: {
  provider: string;
  db: Db;
  bus: EventBus;
  logger: Logger;
  clock: Clock;
  catchUpMs?: number;
  outbox: {
    send(job: { op: "summary"; sessionId: string; seq: number }, key: string): Promise<void>;
    statusSoon(sessionId: string): Promise<void>;
  };
}) {
  const ended: readonly SessionStatus[] = ["idle", "failed", "stopped"];
  const summary = (sessionId: string, seq: number) =>
    deps.outbox.send({ op: "summary", sessionId, seq }, `${sessionId}-${seq}`);
  return followBoundSessions({
    ...deps,
    endStatuses: ended,
    async onEvent(event) {
      if (event.body.type === "status" && (ended as readonly string[]).includes(event.body.status))
        return summary(event.sessionId, event.seq);
      await deps.outbox.statusSoon(event.sessionId);
    },
    async reported(end) {
      const tracking = await deps.db.query.outboundMessages.findFirst({
        where: and(
          eq(outboundMessages.sessionId, end.sessionId),
          eq(outboundMessages.provider, deps.provider),
          eq(outboundMessages.kind, TRACKING_COMMENT),
        ),
        columns: { updatedAt: true },
      });
      return tracking !== undefined && tracking.updatedAt >= end.updatedAt;
    },
    report: (end) => summary(end.sessionId, end.seq),
  });
}
