import { api, h } from "./api.ts";

interface Connection {
  host: string;
  port: number;
  method: string;
  decision: "allowed" | "blocked" | "intercepted";
  reason: string;
  bytesUp: number;
  bytesDown: number;
  createdAt: string;
  closedAt: string | null;
}

const size = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 ** 2
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 ** 2).toFixed(1)} MiB`;

/**
 * The Network tab: what the sandbox tried to reach through the egress proxy, newest first, and
 * what the profile's policy decided. It reads stored records, so it works with no sandbox running.
 */
export function networkPane(sessionId: string) {
  const pane = h("div.pane.network", { "data-testid": "network" });
  const load = async () => {
    try {
      const { connections } = await api<{ connections: Connection[] }>(
        "GET",
        `/api/sessions/${sessionId}/network?limit=200`,
      );
      const rows = connections.map((c) =>
        h(
          "tr",
          { "data-decision": c.decision, "data-host": c.host },
          h("td", {}, new Date(c.createdAt).toLocaleTimeString()),
          h(
            "td",
            {},
            h("code", {}, c.port === 443 || c.port === 80 ? c.host : `${c.host}:${c.port}`),
          ),
          h("td", {}, c.method),
          h("td", { class: `decision ${c.decision}`, title: c.reason }, c.decision),
          h(
            "td",
            {},
            c.decision === "blocked"
              ? ""
              : c.closedAt
                ? `↑ ${size(c.bytesUp)} ↓ ${size(c.bytesDown)}`
                : "open",
          ),
        ),
      );
      pane.replaceChildren(
        h("button", { onclick: () => void load() }, "Refresh"),
        rows.length
          ? h(
              "table.connections",
              {},
              h(
                "thead",
                {},
                h(
                  "tr",
                  {},
                  ...["Time", "Host", "Method", "Decision", "Bytes"].map((t) => h("th", {}, t)),
                ),
              ),
              h("tbody", {}, ...rows),
            )
          : h(
              "p.muted",
              {},
              "The sandbox has not connected anywhere through the egress proxy yet.",
            ),
      );
    } catch (err) {
      pane.replaceChildren(h("p.muted", {}, (err as Error).message));
    }
  };
  return { pane, load };
}
