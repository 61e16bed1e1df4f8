import type { IncomingMessage } from "node:http";
import type { Duplex, Readable } from "node:stream";
import type { ExecProcess } from "@tandem/core";
import type { LiveSandbox } from "../workbench/sandbox-access.ts";

/**
 * Runs inside the sandbox: connects to 127.0.0.1:<port> and pipes stdin/stdout through it, so
 * the connection originates in the sandbox and no sandbox port is ever published on the host.
 */
const RELAY =
  `const s=require("net").connect(+process.argv[1],"127.0.0.1");` +
  `process.stdin.pipe(s);s.pipe(process.stdout);` +
  `s.on("error",e=>{process.stderr.write(String(e));process.exit(1)});s.on("close",()=>process.exit(0))`;

export const openRelay = (sandbox: LiveSandbox, port: number): Promise<ExecProcess> =>
  sandbox.provider.exec(sandbox.id, ["node", "-e", RELAY, String(port)], { stdin: true });

/** Headers that describe this hop: never passed on (Node answers `Expect: 100-continue` itself). */
const HOP = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "expect",
]);

/** Tandem's cookies (the ports origin's own `tandem_port` among them) are never the app's business. */
const isTandemCookie = (name: string) => /^tandem_/i.test(name.trim());

const withoutTandemCookies = (cookie: string) =>
  cookie
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && !isTandemCookie(c.split("=")[0]!))
    .join("; ");

/**
 * The request as the app in the sandbox sees it: its own path, its own host, one request per
 * connection; an upgrade (WebSocket) keeps its `Upgrade` and the connection stays open.
 */
export function requestHead(
  req: IncomingMessage,
  port: number,
  upgrade: string | undefined,
): string {
  const lines = [
    `${req.method} ${req.url} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    ...(upgrade ? ["Connection: Upgrade", `Upgrade: ${upgrade}`] : ["Connection: close"]),
  ];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    let value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (HOP.has(lower)) continue;
    if (lower === "cookie") {
      value = withoutTandemCookies(value);
      if (!value) continue;
    }
    lines.push(`${name}: ${value}`);
  }
  if (req.headers["transfer-encoding"]) lines.push("Transfer-Encoding: chunked");
  return lines.join("\r\n") + "\r\n\r\n";
}

/**
 * A `Set-Cookie` the browser must not get: one with a `Domain` (it would reach sibling hosts, and
 * with a careless PORTS_PUBLIC_URL Tandem), or one naming a Tandem cookie.
 */
export function droppedSetCookie(value: string): boolean {
  const [pair = "", ...attributes] = value.split(";");
  return isTandemCookie(pair.split("=")[0]!) || attributes.some((a) => /^\s*domain\s*=/i.test(a));
}

const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Pipes the app's answer to the browser (the caller ends it), rewriting only response heads (the
 * interim 1xx ones and the final one): cookies that `droppedSetCookie` names are removed.
 */
export function relayResponse(from: Readable, to: Duplex, onDropped: (setCookie: string) => void) {
  let pending = Buffer.alloc(0);
  let inHead = true;
  const write = (bytes: Buffer) => {
    if (!to.write(bytes)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  };
  const heads = () => {
    for (;;) {
      const at = pending.indexOf("\r\n\r\n");
      if (at < 0) {
        if (pending.length > MAX_HEAD_BYTES) {
          to.destroy();
          from.destroy();
        }
        return;
      }
      const [status = "", ...headers] = pending.subarray(0, at).toString("latin1").split("\r\n");
      const kept = headers.filter((line) => {
        const m = /^set-cookie\s*:\s*(.*)$/i.exec(line);
        if (m && droppedSetCookie(m[1]!)) {
          onDropped(m[1]!);
          return false;
        }
        return true;
      });
      write(Buffer.from([status, ...kept].join("\r\n") + "\r\n\r\n", "latin1"));
      const rest = pending.subarray(at + 4);
      pending = Buffer.alloc(0);
      // An interim answer (100 Continue) is followed by another head; 101 hands over to the protocol.
      const code = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(status)?.[1]);
      if (!(code >= 100 && code < 200) || code === 101) {
        inHead = false;
        if (rest.length) write(rest);
        return;
      }
      pending = rest;
    }
  };
  from.on("data", (chunk: Buffer) => {
    if (!inHead) return write(chunk);
    pending = Buffer.concat([pending, chunk]);
    heads();
  });
  // What is left of a head the app never finished goes out as it is.
  from.once("end", () => {
    if (inHead && pending.length) to.write(pending);
  });
}
