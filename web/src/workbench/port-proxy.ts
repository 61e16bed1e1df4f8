import type { FastifyInstance, FastifyRequest } from "fastify";
import { badRequest, notFound, type ExecProcess } from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { requireSameOrigin } from "./origin.ts";
import { listeningPorts } from "./processes.ts";
import { liveSandboxOrThrow, requireSession } from "./sandbox-access.ts";

/**
 * Runs inside the sandbox: connects to 127.0.0.1:<port> and pipes stdin/stdout through it, so
 * the connection originates in the sandbox and no sandbox port is ever published on the host.
 */
const RELAY = `const s=require("net").connect(+process.argv[1],"127.0.0.1");`
  + `process.stdin.pipe(s);s.pipe(process.stdout);`
  + `s.on("error",e=>{process.stderr.write(String(e));process.exit(1)});s.on("close",()=>process.exit(0))`;

/** Headers that describe this hop, or that carry Tandem's own credentials: never passed on. */
const DROPPED = new Set(["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "authorization", "x-csrf-token"]);

function withoutTandemCookies(cookie: string): string {
  return cookie.split(";").map((c) => c.trim()).filter((c) => c && !/^tandem_/.test(c)).join("; ");
}

/**
 * The request as the app in the sandbox sees it: its own path, its own host, one request per
 * connection; an upgrade (WebSocket) keeps its `Upgrade` and the connection stays open.
 */
function requestHead(req: FastifyRequest, port: number, path: string, upgrade: string | undefined): string {
  const lines = [`${req.method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...(upgrade ? ["Connection: Upgrade", `Upgrade: ${upgrade}`] : ["Connection: close"])];
  const raw = req.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    let value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (DROPPED.has(lower)) continue;
    if (lower === "cookie") {
      value = withoutTandemCookies(value);
      if (!value) continue;
    }
    lines.push(`${name}: ${value}`);
  }
  if (req.raw.headers["transfer-encoding"]) lines.push("Transfer-Encoding: chunked");
  return lines.join("\r\n") + "\r\n\r\n";
}

/** Checks access and the port, then starts the relay process inside the sandbox. */
async function openRelay(deps: WebDeps, req: FastifyRequest): Promise<{ proc: ExecProcess; port: number; path: string }> {
  const session = await requireSession(deps, req);
  const port = Number((req.params as { port: string }).port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw badRequest("port must be 1-65535");
  const sandbox = await liveSandboxOrThrow(deps, session);
  if (!(await listeningPorts(sandbox)).includes(port)) throw notFound(`a process listening on port ${port} in the sandbox`);
  const prefix = `/sessions/${session.id}/ports/${port}`;
  const path = req.url.slice(prefix.length) || "/";
  const proc = await sandbox.provider.exec(sandbox.id, ["node", "-e", RELAY, String(port)], { stdin: true });
  return { proc, port, path };
}

/** Bytes the client sent after the upgrade request's head (@fastify/websocket keeps them on the raw request). */
function upgradeHead(req: FastifyRequest): Buffer {
  const key = Object.getOwnPropertySymbols(req.raw).find((s) => s.description === "ws-head");
  const head = key ? (req.raw as unknown as Record<symbol, unknown>)[key] : undefined;
  return Buffer.isBuffer(head) ? head : Buffer.alloc(0);
}

/** `/sessions/:id/ports/:port/*`: HTTP and WebSockets to a port listening inside the session's sandbox. */
export async function portProxyRoutes(app: FastifyInstance, deps: WebDeps) {
  const sameOrigin = requireSameOrigin(deps);
  await app.register(async (scope) => {
    // Bodies stay unread streams; they are relayed as they are.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null));

    scope.route({
      method: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      url: "/sessions/:id/ports/:port/*",
      exposeHeadRoute: false,
      /**
       * An upgrade is relayed as raw bytes both ways (the app in the sandbox does its own
       * handshake), here rather than in the handler, which @fastify/websocket would answer itself.
       */
      preHandler: async (req, reply) => {
        const upgrade = req.headers.upgrade;
        if (!req.ws || !upgrade) return;
        // Like the terminals: a WebSocket must come from a page of Tandem itself.
        await sameOrigin(req, reply);
        const { proc, port, path } = await openRelay(deps, req);
        reply.hijack();
        const socket = req.raw.socket;
        proc.stdin!.write(requestHead(req, port, path, upgrade));
        const head = upgradeHead(req);
        if (head.length) proc.stdin!.write(head);
        socket.on("data", (chunk: Buffer) => proc.stdin!.write(chunk));
        // Node pauses an upgraded socket; a 'data' listener alone does not start it again.
        socket.resume();
        socket.on("error", () => socket.destroy());
        proc.stdout.pipe(socket);
        socket.once("close", () => proc.stdin?.destroy());
        void proc.wait().then(({ exitCode }) => {
          if (exitCode !== 0 && socket.bytesWritten === 0) socket.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n");
          else socket.end();
        }, () => socket.destroy());
      },
      handler: async (req, reply) => {
        const { proc, port, path } = await openRelay(deps, req);
        reply.hijack();
        const socket = req.raw.socket;
        proc.stdin!.write(requestHead(req, port, path, undefined));
        const chunked = Boolean(req.raw.headers["transfer-encoding"]);
        req.raw.on("data", (chunk: Buffer) => {
          proc.stdin!.write(chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]) : chunk);
        });
        req.raw.on("end", () => { if (chunked) proc.stdin!.write("0\r\n\r\n"); });
        proc.stdout.pipe(socket, { end: false });
        const stderr: Buffer[] = [];
        proc.stderr.on("data", (d: Buffer) => stderr.push(d));
        socket.once("close", () => proc.stdin?.destroy());
        const { exitCode } = await proc.wait();
        if (exitCode !== 0 && socket.bytesWritten === 0) {
          req.log.warn({ port, exitCode, stderr: Buffer.concat(stderr).toString().slice(-300) }, "port_proxy.failed");
          socket.end("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ncould not reach the port in the sandbox\n");
        } else socket.end();
      },
    });
  });
}
