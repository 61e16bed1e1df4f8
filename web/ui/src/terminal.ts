import type { Terminal as XTerm } from "@xterm/xterm";
import type { FitAddon as XFit } from "@xterm/addon-fit";

interface TerminalView {
  dispose(): void;
  fit(): void;
}

/**
 * An xterm.js view on a workbench terminal WebSocket (`/terminal` or `/tui`). xterm.js loads with
 * the first terminal opened, not with the page; the view is usable at once and connects then.
 */
export function openTerminal(container: HTMLElement, url: string): TerminalView {
  let view: TerminalView | undefined;
  let disposed = false;
  void Promise.all([import("@xterm/xterm"), import("@xterm/addon-fit")]).then(
    ([{ Terminal }, { FitAddon }]) => {
      if (!disposed) view = connect(Terminal, FitAddon, container, url);
    },
  );
  return {
    dispose() {
      disposed = true;
      view?.dispose();
    },
    fit() {
      view?.fit();
    },
  };
}

function connect(
  Terminal: typeof XTerm,
  FitAddon: typeof XFit,
  container: HTMLElement,
  url: string,
): TerminalView {
  const term = new Terminal({
    fontSize: 13,
    cursorBlink: true,
    convertEol: false,
    fontFamily: "ui-monospace, monospace",
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);
  try {
    fit.fit();
  } catch {
    /* not visible yet */
  }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}${url}?cols=${term.cols}&rows=${term.rows}`);
  ws.onmessage = (e) => {
    const data = String(e.data);
    if (data.startsWith('{"type":"exit"')) {
      const { code } = JSON.parse(data) as { code: number };
      term.write(`\r\n\x1b[2m[exited with code ${code}]\x1b[0m\r\n`);
      container.dataset.exited = String(code);
      return;
    }
    term.write(data);
  };
  ws.onopen = () => {
    opened = true;
    container.dataset.connected = "true";
  };
  let opened = false;
  ws.onclose = (e) => {
    if (e.code === 1000) return;
    const say = (why: string) => {
      term.write(`\r\n\x1b[31m[disconnected${why ? `: ${why}` : ""}]\x1b[0m\r\n`);
      container.dataset.refused = why;
    };
    if (opened) return say(e.reason);
    // Refused before it opened: the browser does not say why, so ask the server.
    const check = `${url}/check?origin=${encodeURIComponent(location.origin)}`;
    void fetch(check)
      .then(async (res) =>
        res.ok
          ? "the connection closed"
          : (((await res.json()) as { error?: { message?: string } }).error?.message ??
            `refused (${res.status})`),
      )
      .catch(() => "Tandem did not answer")
      .then(say);
  };
  term.onData((data) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "input", data }));
  });
  term.onResize(({ cols, rows }) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols, rows }));
  });
  const observer = new ResizeObserver(() => {
    try {
      fit.fit();
    } catch {
      /* hidden */
    }
  });
  observer.observe(container);
  // Lets tests (and people) read what is on screen without scraping the canvas.
  (container as HTMLElement & { readScreen?: () => string }).readScreen = () => {
    const buf = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? "");
    return lines.join("\n");
  };
  return {
    dispose() {
      observer.disconnect();
      ws.close();
      term.dispose();
    },
    fit() {
      try {
        fit.fit();
      } catch {
        /* hidden */
      }
    },
  };
}
