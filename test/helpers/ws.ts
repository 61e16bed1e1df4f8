import WebSocket from "ws";

export interface TerminalClient {
  /** Everything the server sent as terminal output so far. */
  output(): string;
  exit(): { type: "exit"; code: number } | undefined;
  send(frame: unknown): void;
  type(text: string): void;
  waitFor(what: string | RegExp, timeoutMs?: number): Promise<string>;
  closed: Promise<{ code: number }>;
  close(): void;
}

/** Opens a workbench terminal WebSocket; rejects with the HTTP status when the upgrade is refused. */
export function openTerminal(
  url: string,
  headers: Record<string, string>,
): Promise<TerminalClient> {
  return new Promise((resolve, reject) => {
    const { origin, ...rest } = headers;
    const ws = new WebSocket(url, { headers: rest, origin });
    let text = "";
    let exit: { type: "exit"; code: number } | undefined;
    const waiters: Array<() => void> = [];
    ws.on("message", (data, isBinary) => {
      const s = data.toString();
      if (!isBinary && s.startsWith('{"type":"exit"')) exit = JSON.parse(s);
      else text += s;
      waiters.forEach((w) => w());
    });
    const closed = new Promise<{ code: number }>((r) =>
      ws.on("close", (code) => {
        waiters.forEach((w) => w());
        r({ code });
      }),
    );
    ws.on("unexpected-response", (_req, res) =>
      reject(
        Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode }),
      ),
    );
    ws.on("error", (err) => reject(err));
    ws.on("open", () =>
      resolve({
        output: () => text,
        exit: () => exit,
        send: (frame) => ws.send(JSON.stringify(frame)),
        type: (data) => ws.send(JSON.stringify({ type: "input", data })),
        async waitFor(what, timeoutMs = 15_000) {
          const deadline = Date.now() + timeoutMs;
          const hit = () => (typeof what === "string" ? text.includes(what) : what.test(text));
          while (!hit()) {
            if (Date.now() > deadline)
              throw new Error(
                `timed out waiting for ${what} in terminal output:\n${text.slice(-2000)}`,
              );
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 200);
            });
          }
          return text;
        },
        closed,
        close: () => ws.close(),
      }),
    );
  });
}
