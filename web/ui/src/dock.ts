import { h } from "./api.ts";
import { openTerminal } from "./terminal.ts";

const STORE = "tandem.dock";
const MIN_PX = 120;
const STEP_PX = 32;

interface DockState {
  heightPx: number;
  collapsed: boolean;
}

function stored(): DockState {
  try {
    const s = JSON.parse(localStorage.getItem(STORE) ?? "{}") as Partial<DockState>;
    return {
      heightPx: typeof s.heightPx === "number" ? s.heightPx : Math.round(innerHeight * 0.38),
      collapsed: s.collapsed === true,
    };
  } catch {
    return { heightPx: Math.round(innerHeight * 0.38), collapsed: false };
  }
}

/**
 * The session page's bottom dock: terminal tabs and the panels (Changes, Processes, Network).
 * Resized by its handle (pointer or arrow keys) and collapsed by its toggle; both are kept in
 * localStorage. Terminal tabs are renamed by double-click (or F2) and closed by their ×.
 */
export function createDock(terminalUrl: string) {
  const state = stored();
  const tabs = h("nav.tabs", { "data-testid": "tabs", "aria-label": "Panels" });
  const panes = h(
    "div.panes",
    {},
    h(
      "div.pane.dock-empty",
      {},
      h("p.muted", {}, "Open a terminal with +, or pick Changes, Processes or Network."),
    ),
  );
  const toggle = h("button.ghost.dock-toggle", {
    type: "button",
    "data-testid": "dock-toggle",
    "aria-controls": "dock-panes",
  });
  panes.id = "dock-panes";
  const handle = h("div.dock-handle", {
    role: "separator",
    tabindex: "0",
    "aria-orientation": "horizontal",
    "aria-label": "Resize the panel (arrow keys)",
    "aria-valuemin": String(MIN_PX),
    "data-testid": "dock-handle",
  });
  const notice = h("div.dock-notice");
  const element = h(
    "section.bottom.dock",
    { "data-testid": "dock", "aria-label": "Terminals and panels" },
    handle,
    h("div.dock-bar", {}, tabs, toggle),
    notice,
    panes,
  );

  // The chat above keeps room for its header, a few lines and the composer.
  const maxPx = () => Math.max(MIN_PX, innerHeight - 320);
  // The wanted height is kept; a smaller window shows less of it for now.
  const shownPx = () => Math.min(maxPx(), Math.max(MIN_PX, Math.round(state.heightPx)));
  const resize = (px: number) => {
    state.heightPx = Math.min(maxPx(), Math.max(MIN_PX, Math.round(px)));
    apply();
  };
  const apply = () => {
    element.style.setProperty("--dock-h", `${shownPx()}px`);
    element.classList.toggle("collapsed", state.collapsed);
    handle.hidden = state.collapsed;
    handle.setAttribute("aria-valuenow", String(shownPx()));
    handle.setAttribute("aria-valuemax", String(maxPx()));
    toggle.textContent = state.collapsed ? "▴ Show" : "▾ Hide";
    toggle.setAttribute("aria-expanded", String(!state.collapsed));
    toggle.setAttribute("aria-label", state.collapsed ? "Show the panel" : "Hide the panel");
    localStorage.setItem(STORE, JSON.stringify(state));
    for (const p of panes.children)
      if (!(p as HTMLElement).hidden) p.dispatchEvent(new Event("shown"));
  };
  toggle.addEventListener("click", () => {
    state.collapsed = !state.collapsed;
    apply();
  });
  handle.addEventListener("keydown", (e: KeyboardEvent) => {
    const now = shownPx();
    const to: Record<string, number> = {
      ArrowUp: now + STEP_PX,
      ArrowDown: now - STEP_PX,
      PageUp: now + 4 * STEP_PX,
      PageDown: now - 4 * STEP_PX,
      Home: MIN_PX,
      End: maxPx(),
    };
    if (!(e.key in to)) return;
    e.preventDefault();
    resize(to[e.key]!);
  });
  handle.addEventListener("pointerdown", (e: PointerEvent) => {
    e.preventDefault();
    const startY = e.clientY;
    const startPx = shownPx();
    handle.setPointerCapture(e.pointerId);
    handle.classList.add("dragging");
    const move = (m: PointerEvent) => {
      resize(startPx + (startY - m.clientY));
    };
    const up = () => {
      handle.classList.remove("dragging");
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      handle.removeEventListener("pointercancel", up);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
    handle.addEventListener("pointercancel", up);
  });
  addEventListener("resize", () => apply());

  /** Whether someone chose a tab on this page (an automatic opening never overrides that). */
  let chosen = false;
  const select = (tab: HTMLElement, pane: HTMLElement, byPerson = true) => {
    chosen ||= byPerson;
    for (const t of tabs.querySelectorAll(".tab")) {
      t.classList.toggle("active", t === tab);
      if (t === tab) t.setAttribute("aria-current", "true");
      else t.removeAttribute("aria-current");
    }
    for (const p of panes.children) (p as HTMLElement).hidden = p !== pane;
    if (state.collapsed && byPerson) {
      state.collapsed = false;
      apply();
    }
    pane.dispatchEvent(new Event("shown"));
  };

  /** A tab and its pane, added to the dock; `onShow` runs each time it is picked. */
  const panel = (label: string, testid: string, pane: HTMLElement, onShow: () => void) => {
    const tab = h(
      "button.tab",
      {
        type: "button",
        "data-testid": `${testid}-tab`,
        onclick: () => {
          select(tab, pane);
          onShow();
        },
      },
      label,
    );
    pane.hidden = true;
    tabs.append(tab);
    panes.append(pane);
    return { tab, open: () => (select(tab, pane, false), onShow()), chosen: () => chosen };
  };

  let terminals = 0;
  const newTab = h(
    "button.tab.add",
    {
      type: "button",
      title: "New terminal",
      "aria-label": "New terminal",
      "data-testid": "new-terminal",
      onclick: () => addTerminal(),
    },
    "+",
  );
  tabs.append(newTab);
  const addTerminal = () => {
    const n = ++terminals;
    const pane = h("div.pane.term", { "data-testid": `terminal-${n}` });
    const label = h("span.label", {}, `Terminal ${n}`);
    const tab = h(
      "button.tab",
      {
        type: "button",
        "data-testid": `terminal-tab-${n}`,
        title: "Double-click (or F2) to rename",
        onclick: () => select(tab, pane),
        ondblclick: () => rename(),
        onkeydown: (e: KeyboardEvent) => {
          if (e.key === "F2") rename();
        },
      },
      label,
    );
    const close = h(
      "button.tab-close.ghost",
      {
        type: "button",
        "data-testid": `terminal-close-${n}`,
        "aria-label": `Close ${label.textContent}`,
        title: "Close this terminal",
        onclick: () => {
          t.dispose();
          group.remove();
          const wasShown = !pane.hidden;
          pane.remove();
          if (wasShown) {
            const next = tabs.querySelector<HTMLElement>(".tab:not(.add)");
            if (next) next.click();
          }
        },
      },
      "×",
    );
    const group = h("span.tab-group", {}, tab, close);
    const rename = () => {
      const input = h("input.tab-rename", {
        type: "text",
        value: label.textContent ?? "",
        "aria-label": "Terminal name",
        "data-testid": `terminal-rename-${n}`,
      });
      let done = false;
      const finish = (keep: boolean) => {
        if (done) return;
        done = true;
        const name = input.value.trim();
        if (keep && name) {
          label.textContent = name;
          close.setAttribute("aria-label", `Close ${name}`);
        }
        input.replaceWith(tab);
        tab.focus();
      };
      input.addEventListener("keydown", (e: KeyboardEvent) => {
        if (e.key === "Enter") finish(true);
        if (e.key === "Escape") finish(false);
      });
      input.addEventListener("blur", () => finish(true));
      tab.replaceWith(input);
      input.select();
    };
    tabs.insertBefore(group, newTab);
    panes.append(pane);
    select(tab, pane);
    const t = openTerminal(pane, terminalUrl);
    pane.addEventListener("shown", () => t.fit());
  };

  apply();
  return { element, tabs, notice, panel, newTab };
}
