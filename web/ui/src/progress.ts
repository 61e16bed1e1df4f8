import { api, h } from "./api.ts";
import { duration, renderPlan, RunningCommands, type Ev } from "./timeline.ts";

/** Statuses of a turn under way (or about to be). */
const WORKING: Record<string, string> = {
  queued: "Queued",
  starting: "Starting the sandbox",
  running: "Working",
};
/** Statuses after which a session takes nothing more. */
export const ENDED = ["stopped", "failed"];

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

const tokens = (n: number) =>
  n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);

/**
 * What the agent is doing now, above the composer: working (and for how long), the command it
 * is running (and for how long), its plan; and the session's tokens, for the header.
 */
export function createProgress(
  sessionId: string,
  initial: Usage | undefined,
  status: () => string,
) {
  const running = new RunningCommands();
  const workingText = h("span", {});
  const runningCommand = h(
    "span.running-command",
    { "data-testid": "running-command", hidden: true },
    "Running ",
    h("code", {}),
    " ",
    h("span.muted.elapsed", {}),
  );
  const working = h(
    "div.working",
    { "data-testid": "working", role: "status", hidden: true },
    h("span.spinner", { "aria-hidden": "true" }),
    workingText,
    runningCommand,
  );
  const plan = h("details.plan-card", { "data-testid": "plan", hidden: true, open: true });
  const usage = h("span.usage.muted", { "data-testid": "usage", hidden: true });

  const showUsage = (u: Usage | undefined) => {
    if (!u) return;
    usage.hidden = u.inputTokens + u.outputTokens === 0;
    usage.textContent = `${tokens(u.inputTokens + u.outputTokens)} tokens`;
    usage.title = `${u.inputTokens.toLocaleString()} input · ${u.outputTokens.toLocaleString()} output tokens`;
    usage.dataset.input = String(u.inputTokens);
    usage.dataset.output = String(u.outputTokens);
  };
  showUsage(initial);
  let usageTimer: ReturnType<typeof setTimeout> | undefined;
  /** One look at the session's totals, however many status events arrive at once (a replay). */
  const refreshUsage = () => {
    clearTimeout(usageTimer);
    usageTimer = setTimeout(
      () =>
        void api<{ usage?: Usage }>("GET", `/api/sessions/${sessionId}`)
          .then((s) => showUsage(s.usage))
          .catch(() => undefined),
      300,
    );
  };

  let turnStartedAt: number | null = null;
  const tick = () => {
    const label = WORKING[status()];
    working.hidden = !label;
    if (!label) return;
    const since = turnStartedAt === null ? "" : ` · ${duration(Date.now() - turnStartedAt)}`;
    workingText.textContent = `${label}…${since}`;
    const cmd = running.latest();
    runningCommand.hidden = !cmd;
    if (cmd) {
      runningCommand.querySelector("code")!.textContent = cmd.command;
      runningCommand.querySelector(".elapsed")!.textContent = Number.isFinite(cmd.at)
        ? duration(Math.max(0, Date.now() - cmd.at)).replace(/^\d+ ms$/, "0 s")
        : "";
    }
  };
  let ticks = 0;
  setInterval(() => {
    tick();
    // The model proxy counts tokens as the turn goes; a look every 10 s keeps the header near.
    if (WORKING[status()] && !document.hidden && ++ticks % 10 === 0) refreshUsage();
  }, 1000);

  return {
    element: h("div.dock-top.chat-only", {}, plan, working),
    usage,
    /** How long the command `ev` finishes ran, when its start was seen; null otherwise. */
    took: (ev: Ev) => {
      if (ev.type === "command_started") running.start(ev);
      return ev.type === "command" ? running.finish(ev) : null;
    },
    /** Called with every event, after the page has taken its status. */
    onEvent(ev: Ev) {
      if (ev.type === "plan") {
        plan.replaceChildren(...renderPlan(ev.steps));
        plan.hidden = ev.steps.length === 0;
        plan.open = Boolean(WORKING[status()]);
      }
      if (ev.type === "status") {
        if (ev.status === "running") turnStartedAt = Date.parse(ev.createdAt ?? "") || Date.now();
        if (!WORKING[ev.status]) {
          running.clear();
          turnStartedAt = null;
          plan.open = false; // its summary still says how far it got
        }
        if (ENDED.includes(ev.status)) plan.hidden = true;
        refreshUsage();
      }
      tick();
    },
  };
}
