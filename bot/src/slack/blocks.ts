import type { Button, KnownBlock } from "@slack/web-api";
import { clip, formatDuration, type FileStat } from "@tandem/core";
import { ACTIONS } from "./config.ts";

/** A message as Slack takes it: `text` is the notification and screen-reader fallback. */
export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

export interface StatusSnapshot {
  sessionId: string;
  status: string;
  repository: string;
  queuePosition: number | null;
  /** The agent's latest step while it runs: a command, an edit, a plan step. */
  step?: string;
  elapsedMs: number;
  error?: string | null;
  url: string;
}

export interface TurnSummary {
  url: string;
  said: string;
  files: FileStat[] | null;
  branch?: string | null;
  problems: string[];
}

const MAX_SECTION = 2900;
/** Slack's mrkdwn needs &, < and > escaped; the rest of Markdown mostly reads fine. */
export const escapeText = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const mrkdwn = (s: string) =>
  escapeText(s)
    .replace(/\*\*(.+?)\*\*/g, "*$1*")
    .replace(/^#{1,6}\s+(.+)$/gm, "*$1*");

const viewButton = (url: string): Button => ({
  type: "button",
  action_id: ACTIONS.view,
  text: { type: "plain_text", text: "View session" },
  url,
  style: "primary",
});
const linkActions = (url: string): KnownBlock => ({ type: "actions", elements: [viewButton(url)] });

function statusLine(s: StatusSnapshot): { headline: string; detail?: string } {
  switch (s.status) {
    case "queued":
      return {
        headline: `:hourglass_flowing_sand: *Queued*${s.queuePosition ? ` (position ${s.queuePosition})` : ""}`,
        detail: "Waiting for a free slot: the organization is running as many sessions as it may.",
      };
    case "starting":
      return {
        headline: ":rocket: *Starting*",
        detail: "Preparing the sandbox and checking out the repository.",
      };
    case "running":
      return {
        headline: ":gear: *Running*",
        detail: s.step ? `Latest step: ${s.step}` : "The agent is working.",
      };
    case "idle":
      return {
        headline: ":speech_balloon: *Waiting for input*",
        detail: "Reply in this thread to continue the session.",
      };
    case "stopped":
      return { headline: ":black_square_for_stop: *Stopped*" };
    case "failed":
      return {
        headline: ":x: *Failed*",
        detail: s.error ? clip(escapeText(s.error), 500) : undefined,
      };
    default:
      return { headline: `*${s.status}*` };
  }
}

/** The one status message of a session, edited in place as it moves. */
export function progressMessage(s: StatusSnapshot): SlackMessage {
  const { headline, detail } = statusLine(s);
  const ended = s.status === "stopped" || s.status === "failed";
  const buttons: Button[] = [viewButton(s.url)];
  if (!ended) {
    buttons.push({
      type: "button",
      action_id: ACTIONS.stop,
      text: { type: "plain_text", text: "Stop" },
      value: s.sessionId,
      style: "danger",
    });
  }
  const plainHeadline = headline.replace(/:[\w_]+:\s*/g, "").replace(/\*/g, "");
  return {
    text: `Tandem session on ${s.repository}: ${plainHeadline}. View session: ${s.url}`,
    blocks: [
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: `${headline} · \`${escapeText(s.repository)}\`${detail ? `\n${detail}` : ""}`,
        },
      },
      {
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: `:stopwatch: ${formatDuration(s.elapsedMs)} · <${s.url}|View session>`,
          },
        ],
      },
      { type: "actions", elements: buttons },
    ],
  };
}

function filesLine(files: FileStat[]): string {
  const added = files.reduce((n, f) => n + f.added, 0);
  const removed = files.reduce((n, f) => n + f.removed, 0);
  return `${files.length} ${files.length === 1 ? "file" : "files"} changed (+${added} −${removed})`;
}

/** The end of a turn: what the agent said, what it changed, where the work is. */
export function completeMessage(s: TurnSummary): SlackMessage {
  const blocks: KnownBlock[] = [];
  const lines: string[] = [];
  if (s.problems.length > 0) {
    const problem = clip(escapeText(s.problems.at(-1)!), 1000);
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: `:warning: *The agent ran into a problem:* ${problem}` },
    });
    lines.push(`The agent ran into a problem: ${s.problems.at(-1)}`);
  }
  if (s.said.trim()) {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: clip(mrkdwn(s.said.trim()), MAX_SECTION) },
    });
    lines.push(clip(s.said.trim(), 1000));
  } else if (s.problems.length === 0) {
    blocks.push({
      type: "section",
      text: { type: "mrkdwn", text: "The agent finished without a reply." },
    });
  }
  if (s.files && s.files.length > 0) {
    const list = s.files
      .slice(0, 15)
      .map((f) => `• \`${escapeText(f.path)}\` +${f.added} −${f.removed}`);
    if (s.files.length > 15) list.push(`…and ${s.files.length - 15} more`);
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: clip(`*${filesLine(s.files)}*\n${list.join("\n")}`, MAX_SECTION),
      },
    });
    lines.push(filesLine(s.files));
  } else if (s.files) {
    lines.push("No files changed");
    blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: "No files changed." }] });
  }
  if (s.branch && s.files && s.files.length > 0) {
    blocks.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: `Branch \`${escapeText(s.branch)}\`` }],
    });
    lines.push(`Branch ${s.branch}`);
  }
  blocks.push(linkActions(s.url));
  lines.push(`View session: ${s.url}`);
  return { text: lines.join("\n"), blocks };
}

export function failMessage(reason: string, url: string): SlackMessage {
  return {
    text: `The session failed: ${reason}. View session: ${url}`,
    blocks: [
      {
        type: "section",
        text: {
          type: "mrkdwn",
          text: `:x: *The session failed:* ${clip(escapeText(reason), 1000)}`,
        },
      },
      linkActions(url),
    ],
  };
}

/** A short message in the thread; with `url`, it carries the View session link too. */
export function noticeMessage(text: string, url?: string): SlackMessage {
  return {
    text: url ? `${text} View session: ${url}` : text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text } },
      ...(url ? [linkActions(url)] : []),
    ],
  };
}

const pickerBlockId = (pendingId: string) => `pick_${pendingId}`;
export const pendingIdFromBlock = (blockId: string) => blockId.replace(/^pick_/, "");

/** Asks which repository, with a menu of the org's repositories. */
export function pickerMessage(input: {
  pendingId: string;
  repos: string[];
  named?: string;
  publicUrl: string;
}): SlackMessage {
  const intro = input.named
    ? `I don't know the repository \`${escapeText(input.named)}\`. Which one should I work in?`
    : "Which repository should I work in?";
  return {
    text: `${intro.replace(/`/g, "")} Pick one to start.`,
    blocks: [
      {
        type: "section",
        block_id: pickerBlockId(input.pendingId),
        text: { type: "mrkdwn", text: intro },
        accessory: {
          type: "static_select",
          action_id: ACTIONS.pickRepo,
          placeholder: { type: "plain_text", text: "Pick a repository" },
          options: input.repos
            .slice(0, 100)
            .map((name) => ({ text: { type: "plain_text", text: clip(name, 75) }, value: name })),
        },
      },
      {
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: `This request expires in an hour. Add repositories at <${input.publicUrl}|Tandem>.`,
          },
        ],
      },
    ],
  };
}
