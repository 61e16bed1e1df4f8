import { html as diffHtml } from "diff2html";
import { api, h } from "./api.ts";
import { openTerminal } from "./terminal.ts";

type Ev = { seq: number; type: string; [k: string]: any };

/** The session page: live timeline, follow-ups, TUI, terminal tabs, Changes and Processes. */
export async function renderWorkbench(app: HTMLElement, id: string) {
  const session = await api<{ repository: string; status: string; prompt: string; branch: string | null }>("GET", `/api/sessions/${id}`);
  const dot = h("span.dot", { "data-testid": "status", "data-status": session.status, title: session.status });
  const statusText = h("span", {}, session.status);
  const timeline = h("ol.timeline", { "data-testid": "timeline" });
  const followUp = h("textarea", { rows: "2", placeholder: "Message the agent…", "data-testid": "follow-up" });
  const tuiPane = h("div.tui", { hidden: true, "data-testid": "tui" });
  let tui: ReturnType<typeof openTerminal> | undefined;
  const tuiButton = h("button", {
    "data-testid": "tui-toggle",
    onclick: () => {
      const show = tuiPane.hidden;
      tuiPane.hidden = !show;
      timeline.hidden = show;
      if (show && !tui) tui = openTerminal(tuiPane, `/api/sessions/${id}/tui`);
      else if (!show) { tui?.dispose(); tui = undefined; tuiPane.replaceChildren(); }
      tuiButton.textContent = show ? "Chat" : "TUI";
    },
  }, "TUI");

  // Bottom panel: terminal tabs, Changes and Processes.
  const tabs = h("nav.tabs", { "data-testid": "tabs" });
  const panes = h("div.panes");
  const select = (tab: HTMLElement, pane: HTMLElement) => {
    for (const t of tabs.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    for (const p of panes.children) (p as HTMLElement).hidden = p !== pane;
    pane.dispatchEvent(new Event("shown"));
  };
  let terminals = 0;
  const addTerminal = () => {
    const n = ++terminals;
    const pane = h("div.pane.term", { "data-testid": `terminal-${n}` });
    const tab = h("button.tab", { "data-testid": `terminal-tab-${n}`, onclick: () => select(tab, pane) }, `Terminal ${n}`);
    tabs.insertBefore(tab, newTab);
    panes.append(pane);
    select(tab, pane);
    const t = openTerminal(pane, `/api/sessions/${id}/terminal`);
    pane.addEventListener("shown", () => t.fit());
  };
  const newTab = h("button.tab.add", { title: "New terminal", "data-testid": "new-terminal", onclick: addTerminal }, "+");
  const changesPane = h("div.pane.changes", { "data-testid": "changes" });
  const changesTab = h("button.tab", { "data-testid": "changes-tab", onclick: () => { select(changesTab, changesPane); void loadChanges(); } }, "Changes");
  const processesPane = h("div.pane.processes", { "data-testid": "processes" });
  const processesTab = h("button.tab", { "data-testid": "processes-tab", onclick: () => { select(processesTab, processesPane); void loadProcesses(); } }, "Processes");
  tabs.append(newTab, changesTab, processesTab);
  panes.append(changesPane, processesPane);
  changesPane.hidden = processesPane.hidden = true;

  const loadChanges = async () => {
    try {
      const c = await api<{ files: Array<{ path: string; status: string; added: number; removed: number; patch: string }>; totals: { files: number; added: number; removed: number } }>("GET", `/api/sessions/${id}/changes`);
      const summary = h("p.summary", { "data-testid": "changes-totals" }, `${c.totals.files} files `, h("span.add", {}, `+${c.totals.added}`), " ", h("span.del", {}, `−${c.totals.removed}`));
      const list = h("ul.files", {}, ...c.files.map((f) => h("li", { "data-path": f.path }, `${f.path} `, h("span.add", {}, `+${f.added}`), " ", h("span.del", {}, `−${f.removed}`), ` ${f.status}`)));
      const diff = h("div.diff");
      diff.innerHTML = diffHtml(c.files.map((f) => f.patch).join(""), { drawFileList: false, outputFormat: "line-by-line", matching: "none" });
      changesPane.replaceChildren(summary, list, diff);
    } catch (err) {
      changesPane.replaceChildren(h("p.muted", {}, (err as Error).message));
    }
  };
  const loadProcesses = async () => {
    try {
      const { ports } = await api<{ ports: Array<{ port: number; url: string }> }>("GET", `/api/sessions/${id}/processes`);
      processesPane.replaceChildren(h("button", { onclick: () => void loadProcesses() }, "Refresh"),
        ports.length ? h("ul", {}, ...ports.map((p) => h("li", {}, h("a", { href: p.url, target: "_blank", "data-port": String(p.port) }, `port ${p.port}`))))
          : h("p.muted", {}, "Nothing is listening in the sandbox."));
    } catch (err) {
      processesPane.replaceChildren(h("p.muted", {}, (err as Error).message));
    }
  };

  const send = h("form.follow-up", {
    onsubmit: async (e: Event) => {
      e.preventDefault();
      if (!followUp.value.trim()) return;
      await api("POST", `/api/sessions/${id}/messages`, { text: followUp.value });
      followUp.value = "";
    },
  }, followUp, h("button", { type: "submit" }, "Send"));

  app.append(h("div.workbench", {},
    h("header", {}, h("a", { href: "/" }, "Tandem"), " / ", h("strong", {}, session.repository), " ", dot, statusText,
      session.branch ? h("code", {}, session.branch) : null, h("span.spacer"), tuiButton,
      h("button", { onclick: () => void api("POST", `/api/sessions/${id}/stop`) }, "Stop")),
    h("section.main", {}, timeline, tuiPane, send),
    h("section.bottom", {}, tabs, panes)));

  let changesTimer: ReturnType<typeof setTimeout> | undefined;
  const events = new EventSource(`/api/sessions/${id}/events`);
  events.onmessage = (e) => {
    const ev = JSON.parse(e.data) as Ev;
    const item = renderEvent(ev);
    if (item) { timeline.append(item); item.scrollIntoView({ block: "end" }); }
    if (ev.type === "status") { dot.dataset.status = ev.status; statusText.textContent = ev.status; }
    if (ev.type === "file_change" || ev.type === "diff_stat") {
      clearTimeout(changesTimer);
      changesTimer = setTimeout(() => { if (!changesPane.hidden) void loadChanges(); }, 300);
    }
  };
}

function renderEvent(ev: Ev): HTMLElement | null {
  const li = (cls: string, ...children: Array<Node | string | null>) => h("li", { class: `ev ${cls}`, "data-type": ev.type }, ...children);
  switch (ev.type) {
    case "message": return li(`message ${ev.role}`, h("div.text", {}, ev.text));
    case "command": {
      const details = h("details", {}, h("summary", {}, h("code", {}, ev.command), ev.exitCode == null ? "" : ` → ${ev.exitCode}`),
        h("pre", {}, ev.output ?? ""));
      return li("command", details);
    }
    case "file_change": return li("file", `${ev.kind === "add" ? "Added" : ev.kind === "delete" ? "Deleted" : "Edited"} `, h("code", {}, ev.path));
    case "plan": return li("plan", h("ul", {}, ...ev.steps.map((s: { text: string; done: boolean }) => h("li", { class: s.done ? "done" : "" }, `${s.done ? "☑" : "☐"} ${s.text}`))));
    case "error": return li("error", ev.message);
    case "status": return li("status muted", `— ${ev.status}${ev.reason ? `: ${ev.reason}` : ""}`);
    case "diff_stat": return li("diffstat muted", `${ev.files.length} files changed`);
    default: return null;
  }
}
