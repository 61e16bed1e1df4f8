import { api, h } from "./api.ts";
import { attachControl } from "./attachments.ts";
import { createDock } from "./dock.ts";
import { networkPane } from "./network.ts";
import { fileFromHash } from "./changes-tree.ts";
import { hasPendingComments, pendingCommentsList, sendWithComments } from "./review-comments.ts";
import type { FileDiff } from "./review.ts";
import { originLink } from "./origin.ts";
import { sessionTitle } from "./session-title.ts";
import { openTerminal } from "./terminal.ts";
import { createProgress, ENDED, type Usage } from "./progress.ts";
import { timelineFeed, type Ev, type TimelineEntry } from "./timeline.ts";

/** The session page: live timeline, follow-ups, TUI, terminal tabs, Changes and Processes. */
export async function renderWorkbench(app: HTMLElement, id: string) {
  // The event stream opens beside the session's read, not after it; what it brings before the
  // page is built waits here.
  const events = new EventSource(`/api/sessions/${id}/events`);
  let early: MessageEvent[] | null = [];
  events.onmessage = (e) => early?.push(e);
  const session = await api<{
    repository: string;
    repositories?: string[];
    status: string;
    prompt: string;
    /** The name given to it, or else its task's first line (the server decides). */
    title: string;
    pullRequestUrl?: string | null;
    branch: string | null;
    error: string | null;
    origin?: { provider: string; url: string } | null;
    usage?: Usage;
  }>("GET", `/api/sessions/${id}`).catch((err: unknown) => {
    events.close();
    throw err;
  });
  // The primary repository; a selector appears only when the session works on more than one.
  const repositories = session.repositories?.length ? session.repositories : [session.repository];
  let repository = repositories[0]!;
  const repoQuery = () =>
    repositories.length > 1 ? `?repository=${encodeURIComponent(repository)}` : "";
  const repoLabel =
    repositories.length > 1
      ? h(
          "select",
          {
            "data-testid": "repository-select",
            onchange: (e: Event) => {
              repository = (e.target as HTMLSelectElement).value;
              if (!changesPane.hidden) void loadChanges();
              if (!processesPane.hidden) void loadProcesses();
            },
          },
          ...repositories.map((r) => h("option", { value: r }, r)),
        )
      : h("strong", {}, repository);
  const dot = h("span.dot", {
    "data-testid": "status",
    "data-status": session.status,
    title: session.status,
  });
  const statusText = h("span", {}, session.status);
  const statusBadge = h("span.badge.state", { "data-status": session.status }, dot, statusText);
  // Screen readers hear the status change as it happens (not the replay of the past ones).
  const statusLive = h("span.sr-only", { "aria-live": "polite", "data-testid": "status-live" });
  let replaying = true;
  const timeline = h("ol.timeline", {
    "data-testid": "timeline",
    "aria-label": "Session timeline",
  });
  // Scrolled by keyboard too: it takes focus (axe: scrollable-region-focusable).
  const scroller = h(
    "div.scroller.chat-only",
    { tabindex: "0", role: "region", "aria-label": "Conversation" },
    timeline,
  );
  const followUp = h("textarea", {
    rows: "2",
    placeholder: "Message the agent… (Ctrl+Enter sends; paste or drop files to attach)",
    "aria-label": "Message the agent",
    "data-testid": "follow-up",
    onkeydown: (e: KeyboardEvent) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        send.requestSubmit();
      }
    },
  });
  const tuiPane = h("div.tui", { hidden: true, "data-testid": "tui" });
  let tui: ReturnType<typeof openTerminal> | undefined;
  const tuiButton = h(
    "button",
    {
      "data-testid": "tui-toggle",
      onclick: () => {
        const show = tuiPane.hidden;
        tuiPane.hidden = !show;
        // One pane, two modes: the TUI is its own input, so the chat's composer goes away.
        mainSection.dataset.mode = show ? "tui" : "chat";
        tuiButton.setAttribute("aria-pressed", String(show));
        if (show && !tui) tui = openTerminal(tuiPane, `/api/sessions/${id}/tui`);
        else if (!show) {
          tui?.dispose();
          tui = undefined;
          tuiPane.replaceChildren();
        }
        tuiButton.textContent = show ? "Chat" : "TUI";
      },
      title: "Switch between the chat and the agent's own terminal UI",
      "aria-pressed": "false",
    },
    "TUI",
  );

  // The bottom dock: terminal tabs, Changes, Processes and Network.
  const dock = createDock(`/api/sessions/${id}/terminal`);
  const changesPane = h("div.pane.changes", { "data-testid": "changes" });
  const changes = dock.panel("Changes", "changes", changesPane, () => {
    changesPane.replaceChildren(h("p.muted", {}, "Loading changes…"));
    void loadChanges();
  });
  const changesTab = changes.tab;
  const processesPane = h("div.pane.processes", { "data-testid": "processes" });
  const processesTab = dock.panel("Processes", "processes", processesPane, () => {
    void loadProcesses();
  }).tab;
  // Network: the egress proxy's records; they need no running sandbox.
  const network = networkPane(id);
  dock.panel("Network", "network", network.pane, () => void network.load());
  const newTab = dock.newTab;

  let changesLoads = 0;
  /** `auto`: a refresh after the agent's edits, which must not wipe a review comment being written. */
  const loadChanges = async (auto = false) => {
    const mine = ++changesLoads;
    try {
      // The diff renderer (diff2html) loads with the first look at Changes, not with the page.
      const [c, { changesView }] = await Promise.all([
        api<{
          files: FileDiff[];
          totals: { files: number; added: number; removed: number };
        }>("GET", `/api/sessions/${id}/changes${repoQuery()}`),
        import("./review.ts"),
      ]);
      if (mine !== changesLoads || (auto && changesPane.querySelector("tr.review textarea")))
        return;
      changesPane.replaceChildren(changesView(id, c.files, c.totals));
    } catch (err) {
      if (mine !== changesLoads) return;
      changesPane.replaceChildren(h("p.muted", {}, (err as Error).message));
      void refreshSandbox();
    }
  };
  const loadProcesses = async () => {
    try {
      const { ports } = await api<{
        ports: Array<{ port: number; url: string; pid: number | null; command: string | null }>;
      }>("GET", `/api/sessions/${id}/processes${repoQuery()}`);
      processesPane.replaceChildren(
        h("button", { onclick: () => void loadProcesses() }, "Refresh"),
        ports.length
          ? h(
              "ul",
              {},
              ...ports.map((p) =>
                h(
                  "li",
                  {},
                  h(
                    "a",
                    { href: p.url, target: "_blank", "data-port": String(p.port) },
                    `port ${p.port}`,
                  ),
                  p.pid !== null
                    ? h("span.muted", { "data-testid": "process-pid" }, ` · pid ${p.pid} · `)
                    : "",
                  p.command ? h("code", { "data-testid": "process-command" }, p.command) : "",
                ),
              ),
            )
          : h("p.muted", {}, "Nothing is listening in the sandbox."),
      );
    } catch (err) {
      processesPane.replaceChildren(h("p.muted", {}, (err as Error).message));
      void refreshSandbox();
    }
  };
  // While the panel is open (and the page seen), ports come and go as servers start and stop.
  setInterval(() => {
    if (!processesPane.hidden && !document.hidden) void loadProcesses();
  }, 3_000);

  // Terminal, TUI, Changes and Processes need a running sandbox; without one they say why.
  const unavailable = h("p.notice", { hidden: true, "data-testid": "sandbox-unavailable" });
  dock.notice.append(unavailable);
  const bound = [newTab, changesTab, processesTab, tuiButton];
  let availability = 0;
  /** Whether the sandbox was available when last asked. */
  let sandboxReady: Promise<boolean> = Promise.resolve(false);
  const refreshSandbox = () => (sandboxReady = checkSandbox());
  const checkSandbox = async () => {
    const mine = ++availability;
    // An ended session's sandbox is gone for good: that is the reason, whatever the sandbox says.
    const s = ENDED.includes(status)
      ? {
          available: false,
          reason: `the session ${status === "failed" ? "failed" : "was stopped"}`,
        }
      : await api<{ available: boolean; reason?: string }>(
          "GET",
          `/api/sessions/${id}/sandbox`,
        ).catch((err: Error) => ({ available: false, reason: err.message }));
    if (mine !== availability) return s.available;
    unavailable.hidden = s.available;
    unavailable.textContent = s.available
      ? ""
      : `Terminal, TUI, Changes and Processes are unavailable: ${s.reason ?? "no sandbox"}`;
    for (const b of bound) {
      b.disabled = !s.available && !(b === tuiButton && !tuiPane.hidden);
      if (!s.available) b.title = s.reason ?? "";
      else if (b === tuiButton) b.title = "Switch between the chat and the agent's own terminal UI";
      else if (b === newTab) b.title = "New terminal";
      else b.removeAttribute("title");
    }
    return s.available;
  };

  const attach = attachControl(id);
  const sendError = h("span.error", { "data-testid": "send-error" });
  // Review comments waiting in the Changes panel go out with the next message.
  const sendMessage = (text: string) => sendWithComments(id, text);
  const send = h(
    "form.follow-up.composer.chat-only",
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        sendError.textContent = "";
        if (!followUp.value.trim() && !attach.hasFiles() && !hasPendingComments(id)) return;
        try {
          const paths = await attach.upload();
          const note = paths.length
            ? `Attached file${paths.length > 1 ? "s" : ""} (in the repository): ${paths.join(", ")}`
            : "";
          await sendMessage([followUp.value.trim(), note].filter(Boolean).join("\n\n"));
          followUp.value = "";
        } catch (err) {
          sendError.textContent = (err as Error).message;
        }
      },
    },
    followUp,
    h(
      "div.composer-row",
      {},
      attach.element,
      h("span.spacer"),
      h("span.muted.small.hint", {}, "Ctrl+Enter"),
      h("button.primary", { type: "submit", "data-testid": "send" }, "Send"),
    ),
    sendError,
  );
  attach.acceptFrom(send);

  // When the agent ends its turn with a question, it is highlighted with an answer box.
  let status = session.status;
  let lastAssistant: TimelineEntry | null = null;
  const answer = h("textarea", {
    rows: "2",
    placeholder: "Answer the agent…",
    "data-testid": "answer-text",
  });
  const answerForm = h(
    "form.answer",
    {
      "data-testid": "answer",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (!answer.value.trim()) return;
        await sendMessage(answer.value.trim());
        answer.value = "";
      },
    },
    answer,
    h("button.primary", { type: "submit" }, "Answer"),
  );
  const updateQuestion = () => {
    const asking =
      status === "idle" && lastAssistant !== null && /\?\s*$/.test(String(lastAssistant.ev.text));
    for (const q of timeline.querySelectorAll(".ev.question")) q.classList.remove("question");
    const item = asking ? feed.element(lastAssistant!) : null;
    if (item) {
      item.classList.add("question");
      item.append(answerForm);
    } else answerForm.remove();
  };

  // Stop, and what an ended session shows: every control at once, the reason, a way on.
  let endReason: string | null = session.error;
  const stopButton = h(
    "button.danger",
    {
      "data-testid": "stop",
      onclick: async () => {
        stopButton.disabled = true;
        stopButton.textContent = "Stopping…";
        try {
          await api("POST", `/api/sessions/${id}/stop`);
        } catch (err) {
          stopButton.disabled = false;
          stopButton.textContent = "Stop";
          sendError.textContent = (err as Error).message;
        }
      },
    },
    "Stop",
  );
  const continueError = h("span.error", { "data-testid": "continue-error" });
  const continueButton = h(
    "button",
    {
      "data-testid": "continue",
      onclick: async () => {
        continueError.textContent = "";
        continueButton.disabled = true;
        try {
          const next = await api<{ id: string }>("POST", `/api/sessions/${id}/continue`, {});
          location.assign(`/sessions/${next.id}`);
        } catch (err) {
          continueButton.disabled = false;
          continueError.textContent = (err as Error).message;
        }
      },
    },
    "Continue in a new session",
  );
  const endedText = h("span", { "data-testid": "session-ended-reason" });
  const ended = h(
    "div.notice",
    { hidden: true, "data-testid": "session-ended", role: "status" },
    endedText,
    " ",
    continueButton,
    continueError,
  );
  const reflectStatus = () => {
    const over = ENDED.includes(status);
    stopButton.disabled = over || stopButton.textContent === "Stopping…";
    if (over) stopButton.textContent = status === "failed" ? "Failed" : "Stopped";
    for (const control of send.querySelectorAll<HTMLButtonElement | HTMLTextAreaElement>(
      "textarea, button, input",
    ))
      control.disabled = over;
    ended.hidden = !over;
    endedText.textContent = over
      ? `This session ${status === "failed" ? "failed" : "was stopped"}${endReason ? `: ${endReason}` : ""}. It takes no more messages, and its sandbox is gone.`
      : "";
  };

  // Live progress: working, the running command, the plan, the session's tokens.
  const progress = createProgress(id, session.usage, () => status);

  const mainSection = h(
    "section.main",
    { "data-mode": "chat" },
    scroller,
    tuiPane,
    progress.element,
    ended,
    pendingCommentsList(id),
    send,
  );
  app.append(
    h(
      "div.workbench",
      {},
      h(
        "header.session-head",
        {},
        h("a.brand", { href: "/" }, "Tandem"),
        h("span.sep", { "aria-hidden": "true" }, "/"),
        sessionTitle(id, session.title),
        h("span.head-actions", {}, progress.usage, tuiButton, stopButton),
        h(
          "div.head-meta",
          {},
          repoLabel,
          statusBadge,
          statusLive,
          session.branch ? h("code.branch", {}, session.branch) : null,
          session.origin ? originLink(session.origin) : null,
          session.pullRequestUrl
            ? h(
                "a",
                {
                  href: session.pullRequestUrl,
                  target: "_blank",
                  rel: "noopener",
                  "data-testid": "session-pr",
                },
                "Pull request",
              )
            : null,
        ),
      ),
      mainSection,
      dock.element,
    ),
  );
  reflectStatus();
  void refreshSandbox();
  // Opened at a file's anchor (#file-<path>): the Changes panel opens at that file.
  if (fileFromHash()) changesTab.click();

  /** Follows the newest item unless the person has scrolled up to read, also as panels resize. */
  const nearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  let stick = true;
  scroller.addEventListener("scroll", () => (stick = nearBottom()));
  const follow = new ResizeObserver(() => {
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  });
  follow.observe(scroller);
  follow.observe(timeline);
  let changesTimer: ReturnType<typeof setTimeout> | undefined;
  // A replay's status events change the sandbox's availability once, when it has landed.
  let replayedStatus = false;
  const feed = timelineFeed(timeline, () => {
    if (replaying && replayedStatus) void refreshSandbox();
    replaying = false;
    updateQuestion();
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  });
  const onEvent = (e: MessageEvent) => {
    const ev = JSON.parse(e.data) as Ev;
    const entry = feed.push(ev, progress.took(ev));
    if (ev.type === "message" && ev.role === "assistant") lastAssistant = entry;
    if (ev.type === "message" && ev.role === "user") lastAssistant = null;
    if (ev.type === "status") {
      dot.dataset.status = status = ev.status;
      statusText.textContent = statusBadge.dataset.status = ev.status;
      if (ENDED.includes(ev.status)) endReason = ev.reason ?? endReason;
      if (!replaying)
        statusLive.textContent = `Session ${ev.status}${ev.reason ? `: ${ev.reason}` : ""}`;
      reflectStatus();
      if (replaying) replayedStatus = true;
      else void refreshSandbox();
    }
    progress.onEvent(ev);
    updateQuestion();
    // A turn that ended with changes opens Changes, unless the person picked a panel already.
    if (ev.type === "diff_stat" && ev.files.length > 0 && !changes.chosen() && changesPane.hidden)
      void sandboxReady.then((ok) => {
        if (ok && !changes.chosen() && changesPane.hidden) changes.open();
      });
    // Edits made while the page is open refresh Changes; replayed ones are in its first load.
    if (!replaying && (ev.type === "file_change" || ev.type === "diff_stat")) {
      clearTimeout(changesTimer);
      // A review comment being written is not wiped by the agent's next edit.
      changesTimer = setTimeout(() => {
        if (!changesPane.hidden && !changesPane.querySelector("tr.review textarea"))
          void loadChanges(true);
      }, 300);
    }
  };
  events.onmessage = onEvent;
  for (const e of early) onEvent(e);
  early = null;
}
