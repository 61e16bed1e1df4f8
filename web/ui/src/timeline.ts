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

/** The agent's Markdown as sanitised HTML: no scripts, no handlers, no forms. */
function markdown(text: string): string {
  const html = marked.parse(text, { async: false, gfm: true, breaks: true });
  return DOMPurify.sanitize(html, { FORBID_TAGS: ["style", "form", "input", "button"] });
}

/** "1.2 s", "3 min 4 s": how long something took. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A time element: the clock time shown small, the full date and time on hover. */
function timeOf(iso: string | undefined): HTMLElement | null {
  if (!iso) return null;
  const at = new Date(iso);
  return h(
    "time",
    { datetime: iso, title: at.toLocaleString() },
    at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
  );
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
export function renderEvent(ev: Ev, tookMs: number | null): HTMLElement | null {
  const li = (cls: string, ...children: Array<Node | string | null>) =>
    h("li", { class: `ev ${cls}`, "data-type": ev.type, "data-seq": String(ev.seq) }, ...children);
  const at = () => timeOf(ev.createdAt);
  switch (ev.type) {
    case "message": {
      if (ev.role === "assistant") {
        const text = h("div.text.prose");
        text.innerHTML = markdown(ev.text);
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
      if (ev.createdAt) label.title = new Date(ev.createdAt).toLocaleString();
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
