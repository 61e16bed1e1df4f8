import DOMPurify from "dompurify";
import { marked } from "marked";
import { h } from "./api.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an event body of any type, read by its renderer
export type Ev = { seq: number; createdAt?: string; type: string; [k: string]: any };

// Links the agent writes open beside the session, never in its place; images say they are one.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  if (node.tagName === "IMG" && !node.hasAttribute("alt")) node.setAttribute("alt", "image");
});

/**
 * Text from which Markdown can make no link or image of its own choosing and no raw HTML: without
 * `<` and the `](`, `]:`, `][`, `![` of links, images and their definitions, marked writes only
 * its own tags around escaped text (autolinks are http(s), www and mailto only).
 */
const PLAIN_MARKDOWN = /^[^<]*$/;
const LINK_OR_IMAGE = /\]\(|\]:|\]\[|!\[/;

/** The agent's Markdown as sanitised nodes: no scripts, no handlers, no forms. */
function markdown(text: string): DocumentFragment {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  if (PLAIN_MARKDOWN.test(text) && !LINK_OR_IMAGE.test(text)) {
    // Nothing for DOMPurify to take out (its parse is most of a message's cost in a long replay).
    const inert = document.createElement("template");
    inert.innerHTML = html;
    for (const a of inert.content.querySelectorAll("a")) {
      a.target = "_blank";
      a.rel = "noopener noreferrer";
    }
    return inert.content;
  }
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ["style", "form", "input", "button"],
    RETURN_DOM_FRAGMENT: true,
  });
}

/** "1.2 s", "3 min 4 s": how long something took. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

// Made once: a formatter per call (toLocaleString) costs more than the rest of an item.
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** A time element: the clock time shown small, the full date and time on hover. */
function timeOf(iso: string | undefined): HTMLElement | null {
  if (!iso) return null;
  const at = new Date(iso);
  return h("time", { datetime: iso, title: FULL.format(at) }, CLOCK.format(at));
}

/** Commands the agent has started and not finished, by the agent's call id (or the command). */
export class RunningCommands {
  private readonly started = new Map<string, { command: string; at: number }>();
  private readonly key = (ev: Ev) => String(ev.id ?? ev.command);

  start(ev: Ev) {
    this.started.set(this.key(ev), { command: ev.command, at: Date.parse(ev.createdAt ?? "") });
  }

  /** Forgets the command that `ev` finished; returns how long it ran, when its start was seen. */
  finish(ev: Ev): number | null {
    const start = this.started.get(this.key(ev));
    this.started.delete(this.key(ev));
    const end = Date.parse(ev.createdAt ?? "");
    return start && Number.isFinite(start.at) && Number.isFinite(end) ? end - start.at : null;
  }

  clear() {
    this.started.clear();
  }

  /** The latest command still running. */
  latest(): { command: string; at: number } | undefined {
    return [...this.started.values()].at(-1);
  }
}

/** One timeline item for an event; null for events the timeline does not show. */
function renderEvent(ev: Ev, tookMs: number | null): HTMLElement | null {
  const li = (cls: string, ...children: Array<Node | string | null>) =>
    h("li", { class: `ev ${cls}`, "data-type": ev.type, "data-seq": String(ev.seq) }, ...children);
  const at = () => timeOf(ev.createdAt);
  switch (ev.type) {
    case "message": {
      if (ev.role === "assistant") {
        const text = h("div.text.prose");
        text.append(markdown(ev.text));
        return li("message assistant", h("div.who", {}, "Agent ", at()), text);
      }
      const who = ev.role === "user" ? "You" : "System";
      return li(
        `message ${ev.role}`,
        h("div.bubble", {}, h("div.text", {}, ev.text)),
        h("div.who", {}, who, " ", at()),
      );
    }
    case "command": {
      const failed = typeof ev.exitCode === "number" && ev.exitCode !== 0;
      const output = String(ev.output ?? "");
      const summary = h(
        "summary",
        {},
        h("span.cmd-icon", { "aria-hidden": "true" }, "›"),
        h("code.cmd", {}, ev.command),
        h(
          "span.cmd-meta",
          {},
          ev.exitCode == null
            ? null
            : h(
                "span.badge",
                { "data-testid": "exit-code", "data-tone": failed ? "danger" : "success" },
                `exit ${ev.exitCode}`,
              ),
          tookMs === null
            ? null
            : h("span.muted", { "data-testid": "command-duration" }, duration(tookMs)),
          at(),
        ),
      );
      const body = output
        ? h("pre.output", { "data-testid": "command-output" }, output)
        : h("p.muted.small.no-output", {}, "No output.");
      return li(`command${failed ? " failed" : ""}`, h("details", {}, summary, body));
    }
    case "file_change":
      return li(
        "file",
        `${ev.kind === "add" ? "Added" : ev.kind === "delete" ? "Deleted" : "Edited"} `,
        h("code", {}, ev.path),
        " ",
        at(),
      );
    case "plan": {
      const done = (ev.steps as Array<{ done: boolean }>).filter((s) => s.done).length;
      return li("plan muted", `Plan updated: ${done} of ${ev.steps.length} done `, at());
    }
    case "error":
      return li("error", h("span.error-box", {}, ev.message), " ", at());
    case "status": {
      // A divider: its time on hover of the label, not beside it (that would pull it off centre).
      const label = h("span", {}, `${ev.status}${ev.reason ? `: ${ev.reason}` : ""}`);
      if (ev.createdAt) label.title = FULL.format(new Date(ev.createdAt));
      return li("status muted", label);
    }
    case "diff_stat":
      return li(
        "diffstat muted",
        `${ev.files.length} file${ev.files.length === 1 ? "" : "s"} changed `,
        at(),
      );
    default:
      return null;
  }
}

/** The agent's current plan, pinned above the composer. */
export function renderPlan(steps: Array<{ text: string; done: boolean }>): HTMLElement[] {
  const done = steps.filter((s) => s.done).length;
  return [
    h("summary", {}, h("strong", {}, "Plan"), ` ${done} of ${steps.length} done`),
    h(
      "ol",
      {},
      ...steps.map((s) =>
        h(
          "li",
          { "data-done": String(s.done) },
          h("span.check", { "aria-hidden": "true" }, s.done ? "✓" : ""),
          h("span", {}, s.text),
          h("span.sr-only", {}, s.done ? " (done)" : " (to do)"),
        ),
      ),
    ),
  ];
}

/** A replay shows this many of its newest items at once; the older ones fill in above them. */
const NEWEST_FIRST = 150;
const BACKFILL_CHUNK = 100;

export interface TimelineEntry {
  ev: Ev;
  took: number | null;
  el?: HTMLElement | null;
}

/**
 * The timeline's items, landed once a frame: a burst of events is one layout and one scroll, not
 * one per event. The first burst (the replay of a long session) shows its newest items at once and
 * renders the older ones above them in the tasks after, so the page is readable before all of a
 * thousand items are built; scroll anchoring keeps what the person reads in place meanwhile.
 */
export function timelineFeed(list: HTMLElement, landed: () => void) {
  const element = (e: TimelineEntry) =>
    e.el === undefined ? (e.el = renderEvent(e.ev, e.took)) : e.el;
  const elements = (entries: TimelineEntry[]) =>
    entries.map(element).filter((el): el is HTMLElement => el !== null);
  let queue: TimelineEntry[] = [];
  let replay = true;
  const backfill = (older: TimelineEntry[]) => {
    if (!older.length) return;
    list.prepend(...elements(older.splice(-BACKFILL_CHUNK)));
    setTimeout(() => backfill(older), 0);
  };
  const land = () => {
    const batch = queue;
    queue = [];
    const older = replay ? batch.splice(0, Math.max(0, batch.length - NEWEST_FIRST)) : [];
    replay = false;
    list.append(...elements(batch));
    landed();
    if (older.length) setTimeout(() => backfill(older), 0);
  };
  return {
    /** Queues the item for `ev` (its renderer decides whether it shows one). */
    push(ev: Ev, took: number | null): TimelineEntry {
      const entry = { ev, took };
      if (queue.push(entry) === 1) requestAnimationFrame(land);
      return entry;
    },
    /** The entry's element, built now if it was not yet (it may not be in the list yet). */
    element,
  };
}
