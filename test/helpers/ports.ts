import http from "node:http";
import type { Stack } from "./stack.ts";

export interface PortsAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A request to the ports origin. Browsers resolve `*.localhost` to loopback, Node does not: the
 * request goes to the stack's ports listener, with the URL's host in `Host` as a browser sends it.
 */
export function portsRequest(
  stack: Stack,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<PortsAnswer> {
  const target = new URL(url);
  const listener = new URL(stack.ports.address);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: listener.hostname,
        port: listener.port,
        method: options.method ?? "GET",
        path: target.pathname + target.search,
        headers: { host: target.host, ...options.headers },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

/**
 * Opens a session's port as the workbench link does: Tandem's route answers with a redirect
 * carrying a link token, and the port's host turns it into its own cookie.
 */
export async function openPort(
  stack: Stack,
  token: string,
  sessionId: string,
  port: number,
  path = "/",
) {
  const link = await fetch(`${stack.base}/sessions/${sessionId}/ports/${port}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    redirect: "manual",
  });
  if (link.status !== 303)
    throw new Error(`Tandem's port link answered ${link.status}: ${await link.text()}`);
  const authorizeUrl = link.headers.get("location")!;
  const authorized = await portsRequest(stack, authorizeUrl);
  if (authorized.status !== 303)
    throw new Error(`the ports origin answered ${authorized.status}: ${authorized.body}`);
  const setCookie = [authorized.headers["set-cookie"] ?? []].flat();
  const origin = new URL(authorizeUrl).origin;
  return {
    authorizeUrl,
    origin,
    next: String(authorized.headers.location),
    setCookie,
    cookie: setCookie.map((c) => c.split(";")[0]!).join("; "),
  };
}
