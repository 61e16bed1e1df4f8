import {
  clip,
  formatDuration,
  unwrapShell,
  type FileStat,
  type SessionStatusView,
  type TurnResult,
} from "@tandem/core";
import { CUSTOM_ID, MESSAGE_LIMIT } from "./config.ts";

// What Tandem writes in Discord: Markdown content (Discord renders it) with buttons. Every text
// that can be long goes through `splitMessage`, which keeps each part within Discord's limit.

/** A message as the REST API takes it (content, components, who it may ping). */
export interface DiscordMessage {
  content: string;
  components?: unknown[];
  /** Nobody is pinged unless a message names them here. */
  allowed_mentions: { parse: never[]; users?: string[]; replied_user?: boolean };
  flags?: number;
}

/** `flags` of a message only the person it answers sees (interaction responses and follow-ups). */
export const EPHEMERAL = 64;

const code = (s: string) => `\`${clip(s.replace(/`/g, "'").split("\n")[0]!, 80)}\``;

/** A row of buttons: View session (a link), and Stop while the session can still be stopped. */
export function sessionButtons(url: string, sessionId: string, stoppable: boolean): unknown[] {
  const buttons: unknown[] = [{ type: 2, style: 5, label: "View session", url }];
  if (stoppable)
    buttons.push({ type: 2, style: 4, label: "Stop", custom_id: `${CUSTOM_ID.stop}${sessionId}` });
  return [{ type: 1, components: buttons }];
}

/** The menu that asks which repository a request should work in (Discord allows 25 options). */
export function repositoryMenu(pendingId: string, names: string[]): unknown[] {
  return [
    {
      type: 1,
      components: [
        {
          type: 3,
          custom_id: `${CUSTOM_ID.pickRepo}${pendingId}`,
          placeholder: "Pick a repository",
          options: names.slice(0, 25).map((name) => ({ label: clip(name, 100), value: name })),
        },
      ],
    },
  ];
}

export const notice = (content: string, users: string[] = []): DiscordMessage => ({
  content: clip(content, MESSAGE_LIMIT),
  allowed_mentions: { parse: [], users },
});

function latestStep(view: SessionStatusView): string | undefined {
  const step = view.latest;
  if (!step) return undefined;
  if (step.type === "command") return `ran ${code(unwrapShell(step.command))}`;
  if (step.type === "file_change")
    return `${step.kind === "add" ? "created" : step.kind === "delete" ? "deleted" : "edited"} ${code(step.path)}`;
  const next = step.steps.findIndex((s) => !s.done);
  return next < 0
    ? undefined
    : `plan step ${next + 1}/${step.steps.length}: ${clip(step.steps[next]!.text, 120)}`;
}

const HEADLINE: Record<string, string> = {
  queued: "⏳ **Queued**",
  starting: "🚀 **Starting**",
  running: "⚙️ **Working**",
  idle: "💬 **Waiting for you**",
  stopped: "⏹️ **Stopped**",
  failed: "❌ **Failed**",
};

/** The one status message of a session, edited in place as it moves. */
export function statusMessage(view: SessionStatusView): DiscordMessage {
  const lines = [
    `${HEADLINE[view.status] ?? `**${view.status}**`} · \`${view.repository}\` · ${formatDuration(view.elapsedMs)}`,
  ];
  switch (view.status) {
    case "queued":
      lines.push(
        `Waiting for a free slot${view.queuePosition ? ` (position ${view.queuePosition})` : ""}.`,
      );
      break;
    case "starting":
      lines.push("Preparing the sandbox and checking out the repository.");
      break;
    case "running": {
      if (view.plan) {
        for (const step of view.plan.slice(0, 10))
          lines.push(`${step.done ? "☑" : "☐"} ${clip(step.text, 120)}`);
      }
      const step = latestStep(view);
      lines.push(step ? `Latest step: ${step}` : "The agent is working.");
      break;
    }
    case "idle":
      lines.push("Write in this thread to continue.");
      break;
    case "failed":
      if (view.error) lines.push(`> ${clip(view.error.replace(/\n/g, " "), 500)}`);
      break;
  }
  if (view.pullRequestUrl) lines.push(`Pull request: ${view.pullRequestUrl}`);
  lines.push(`-# [View session](<${view.url}>)`);
  const stoppable = !["stopped", "failed"].includes(view.status);
  return {
    content: clip(lines.join("\n"), MESSAGE_LIMIT),
    components: sessionButtons(view.url, view.sessionId, stoppable),
    allowed_mentions: { parse: [] },
  };
}

function filesSection(files: FileStat[]): string[] {
  if (files.length === 0) return ["No files changed."];
  const added = files.reduce((n, f) => n + f.added, 0);
  const removed = files.reduce((n, f) => n + f.removed, 0);
  const lines = [
    `**${files.length} file${files.length === 1 ? "" : "s"} changed** (+${added} −${removed})`,
  ];
  for (const f of files.slice(0, 20)) lines.push(`- \`${f.path}\` +${f.added} −${f.removed}`);
  if (files.length > 20) lines.push(`- … and ${files.length - 20} more`);
  return lines;
}

/**
 * The end of a turn, as one or more messages (the agent's words can be long): what it said, the
 * files it changed, problems, the pull request, and the View session link with the buttons.
 */
export function summaryMessages(
  turn: TurnResult,
  s: { url: string; sessionId: string; pullRequestUrl: string | null },
): DiscordMessage[] {
  const tail: string[] = [];
  if (turn.files) tail.push(...filesSection(turn.files));
  for (const p of turn.problems.slice(-3)) tail.push(`> ⚠️ ${clip(p.replace(/\n/g, " "), 300)}`);
  if (s.pullRequestUrl) tail.push(`Pull request: ${s.pullRequestUrl}`);
  tail.push(`-# [View session](<${s.url}>) · write in this thread to continue`);
  const said = turn.said.trim() || (turn.failed ? "The turn failed." : "Done.");
  const parts = splitMessage(`${said}\n\n${tail.join("\n")}`);
  return parts.map((content, i) => ({
    content,
    ...(i === parts.length - 1 ? { components: sessionButtons(s.url, s.sessionId, false) } : {}),
    allowed_mentions: { parse: [] },
  }));
}

/** The message that says a session failed (the status message shows it too, but edits do not notify). */
export function failureMessage(reason: string, url: string, requester?: string): DiscordMessage {
  const who = requester ? `<@${requester}> ` : "";
  return {
    content: clip(`${who}❌ The session failed: ${reason}\n-# [View session](<${url}>)`, 2000),
    allowed_mentions: { parse: [], users: requester ? [requester] : [] },
  };
}

const FENCE = /^\s*(`{3,}|~{3,})(\S*)/;
interface Fence {
  close: string;
  open: string;
}

/**
 * Splits text into parts of at most `limit` characters at line ends, never inside a code block
 * without closing it: a block cut in two is closed at the end of one part and opened again (with
 * its language) at the start of the next. A line longer than a whole part is cut where it must.
 */
export function splitMessage(text: string, limit = MESSAGE_LIMIT): string[] {
  const parts: string[] = [];
  let lines: string[] = [];
  let size = 0;
  /** The open code block, if any: the marker that closes it, the line that opens it again. */
  let fence: Fence | null = null;
  const add = (line: string) => {
    size += (lines.length ? 1 : 0) + line.length;
    lines.push(line);
  };
  const flush = () => {
    if (fence) lines.push(fence.close);
    parts.push(lines.join("\n"));
    lines = [];
    size = 0;
    if (fence) add(fence.open);
  };
  for (const whole of text.split("\n")) {
    let line = whole;
    const marker = FENCE.exec(line);
    const after: Fence | null = marker
      ? fence
        ? null
        : { close: marker[1]!, open: `${marker[1]}${marker[2]!.slice(0, 20)}` }
      : fence;
    // Room for the line, and for the marker that closes the block if the part ends inside it.
    const room = () => limit - size - (lines.length ? 1 : 0) - (after ? after.close.length + 1 : 0);
    while (line.length > room()) {
      const onlyReopened = fence !== null && lines.length === 1;
      if (lines.length > 0 && !onlyReopened) {
        flush();
        continue;
      }
      const cut = Math.max(1, room());
      add(line.slice(0, cut));
      line = line.slice(cut);
      flush();
    }
    add(line);
    fence = after;
  }
  if (lines.length) parts.push(lines.join("\n"));
  return parts.filter((p) => p.trim() !== "");
}
