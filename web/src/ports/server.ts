import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { eq } from "drizzle-orm";
import {
  AppError,
  forbidden,
  notFound,
  parsePortHost,
  portsPublicUrl,
  resolveActor,
  schema,
} from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { listeningPorts } from "../workbench/processes.ts";
import { liveSandboxOrThrow } from "../workbench/sandbox-access.ts";
import { safeNext } from "../workbench/ui.ts";
import { openRelay, relayResponse, requestHead } from "./relay.ts";
import {
  COOKIE_TTL_MS,
  LINK_TTL_MS,
  portTokenKey,
  signPortToken,
  verifyPortToken,
  type PortClaims,
} from "./token.ts";

/** Where Tandem's redirect lands on a port's host; the only path the ports origin keeps for itself. */
export const AUTHORIZE_PATH = "/__tandem/authorize";
const PORT_COOKIE = "tandem_port";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

type Target = { sessionId: string; port: number };

export interface PortsServer {
  /** The address actually bound. */
  address: string;
  close(): Promise<void>;
}

/**
 * The ports origin: a second listener, apart from Tandem's app, that serves each session's port
 * on its own host (`<port>-<session id>.<PORTS_PUBLIC_URL host>`). It is authorised only by a
 * link token from Tandem and then by its own cookie for that host; it never sees Tandem's cookies.
 */
export async function startPortsServer(
  deps: WebDeps,
  listen = { port: deps.config.PORTS_PORT, host: deps.config.HOST },
): Promise<PortsServer> {
  const log = deps.logger.child({ component: "ports" });
  const base = portsPublicUrl(deps.config);
  const secure = base.startsWith("https:");
  const key = portTokenKey(deps.config);
  const { db } = deps.database;
  const tandemLink = (t: Target) =>
    `${deps.config.PUBLIC_URL.replace(/\/$/, "")}/sessions/${t.sessionId}/ports/${t.port}/`;

  const targetOf = (req: IncomingMessage): Target => {
    const target = parsePortHost(base, req.headers.host);
    if (!target)
      throw notFound(
        `a session port at ${req.headers.host ?? "this host"} (ports are <port>-<session id> hosts under ${new URL(base).host})`,
      );
    return target;
  };

  /** Any `tandem_port` cookie signed for this host (another host's, tossed in, does not count). */
  const cookieClaims = (req: IncomingMessage, target: Target): PortClaims => {
    let problem: unknown;
    for (const part of req.headers.cookie?.split(";") ?? []) {
      const [name, ...value] = part.trim().split("=");
      if (name !== PORT_COOKIE) continue;
      try {
        return verifyPortToken(key, deps.clock, value.join("="), { kind: "cookie", ...target });
      } catch (err) {
        problem = err;
      }
    }
    if (problem instanceof AppError && /expired/.test(problem.message))
      throw forbidden(
        `your access to this port has expired; open it again from Tandem: ${tandemLink(target)}`,
      );
    throw forbidden(
      `open this port from the session's Processes panel in Tandem: ${tandemLink(target)}`,
    );
  };

  /** The person still belongs to the session's org, and the port is the sandbox's own and listening. */
  const sandboxFor = async (claims: PortClaims, target: Target) => {
    const session = await db.query.sessions.findFirst({
      where: eq(schema.sessions.id, target.sessionId),
    });
    if (!session) throw notFound("session");
    await resolveActor(db, claims.userId, session.orgId).catch(() => {
      throw forbidden("you are no longer a member of this session's organization");
    });
    const sandbox = await liveSandboxOrThrow(deps, session);
    if (!(await listeningPorts(sandbox)).includes(target.port))
      throw notFound(`a process listening on port ${target.port} in the sandbox`);
    return sandbox;
  };

  /** WebSockets and unsafe methods only from this port's own pages: another port's page is same-site. */
  const requireOwnOrigin = (req: IncomingMessage) => {
    const origin = req.headers.origin;
    const own = `${new URL(base).protocol}//${req.headers.host}`;
    if (origin !== undefined && origin !== own)
      throw forbidden(
        `requests from ${origin} may not ${req.method === "GET" ? "open WebSockets" : "change"} this port; only its own pages may`,
      );
    if (origin === undefined && req.headers.upgrade)
      throw forbidden(
        "a WebSocket to a sandbox port must come from its own pages (no Origin header)",
      );
  };

  const dropped = (target: Target) => (setCookie: string) =>
    log.info(
      { sessionId: target.sessionId, port: target.port, cookie: setCookie.split("=")[0] },
      "ports.cookie_dropped",
    );

  /** The link token from Tandem becomes this host's cookie, and the token leaves the address bar. */
  const authorize = async (res: ServerResponse, target: Target, url: URL) => {
    const token = url.searchParams.get("token") ?? "";
    const claims = verifyPortToken(key, deps.clock, token, { kind: "link", ...target });
    await sandboxFor(claims, target);
    // Once only: a link that stayed in a history or a log opens nothing later.
    const first = await deps.redis.set(
      `${deps.config.REDIS_PREFIX}:port-link:${token.split(".")[1]}`,
      "1",
      "PX",
      LINK_TTL_MS,
      "NX",
    );
    if (first !== "OK")
      throw forbidden(
        "this port link was already used; open the port again from the session's Processes panel",
      );
    const cookie = signPortToken(key, {
      ...claims,
      kind: "cookie",
      expiresAtMs: deps.clock.now().getTime() + COOKIE_TTL_MS,
    });
    res
      .writeHead(303, {
        location: safeNext(url.searchParams.get("next")) ?? "/",
        "set-cookie": `${PORT_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${COOKIE_TTL_MS / 1000}${secure ? "; Secure" : ""}`,
        "cache-control": "no-store",
        "referrer-policy": "no-referrer",
      })
      .end();
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse, written: number) => {
    const target = targetOf(req);
    const url = new URL(req.url ?? "/", "http://port.invalid");
    if (url.pathname === AUTHORIZE_PATH && (req.method === "GET" || req.method === "HEAD"))
      return authorize(res, target, url);
    const claims = cookieClaims(req, target);
    if (UNSAFE.has(req.method ?? "")) requireOwnOrigin(req);
    const sandbox = await sandboxFor(claims, target);
    const proc = await openRelay(sandbox, target.port);
    const socket = req.socket;
    proc.stdin!.write(requestHead(req, target.port, undefined));
    const chunked = Boolean(req.headers["transfer-encoding"]);
    req.on("data", (chunk: Buffer) => {
      proc.stdin!.write(
        chunked
          ? Buffer.concat([
              Buffer.from(`${chunk.length.toString(16)}\r\n`),
              chunk,
              Buffer.from("\r\n"),
            ])
          : chunk,
      );
    });
    req.on("end", () => {
      if (chunked) proc.stdin!.write("0\r\n\r\n");
    });
    relayResponse(proc.stdout, socket, dropped(target));
    const stderr: Buffer[] = [];
    proc.stderr.on("data", (d: Buffer) => stderr.push(d));
    socket.once("close", () => proc.stdin?.destroy());
    const { exitCode } = await proc.wait();
    if (exitCode !== 0 && socket.bytesWritten === written) {
      log.warn(
        {
          sessionId: target.sessionId,
          port: target.port,
          exitCode,
          stderr: Buffer.concat(stderr).toString().slice(-300),
        },
        "ports.relay_failed",
      );
      socket.end(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ncould not reach the port in the sandbox\n",
      );
    } else socket.end();
  };

  /** An upgrade is relayed as raw bytes both ways: the app in the sandbox does its own handshake. */
  const onUpgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = targetOf(req);
    const claims = cookieClaims(req, target);
    requireOwnOrigin(req);
    const sandbox = await sandboxFor(claims, target);
    const proc = await openRelay(sandbox, target.port);
    proc.stdin!.write(requestHead(req, target.port, req.headers.upgrade));
    if (head.length) proc.stdin!.write(head);
    socket.on("data", (chunk: Buffer) => proc.stdin!.write(chunk));
    relayResponse(proc.stdout, socket, dropped(target));
    socket.once("close", () => proc.stdin?.destroy());
    const { exitCode } = await proc.wait();
    if (exitCode !== 0 && (socket as Socket).bytesWritten === 0)
      socket.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n");
    else socket.end();
  };

  const failure = (err: unknown) => {
    if (err instanceof AppError) return { status: err.status, message: err.message };
    log.error({ err }, "ports.failed");
    return { status: 500, message: "internal error; see the server log" };
  };
  const headers = {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  };

  const server = createServer((req, res) => {
    // A kept-alive connection has carried earlier answers: only bytes after this point are this one's.
    const written = req.socket.bytesWritten;
    onRequest(req, res, written).catch((err) => {
      const { status, message } = failure(err);
      if (res.headersSent || req.socket.bytesWritten > written) return void req.socket.destroy();
      res.writeHead(status, headers).end(`${message}\n`);
    });
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    onUpgrade(req, socket, head).catch((err) => {
      const { status, message } = failure(err);
      const body = `${message}\n`;
      socket.end(
        `HTTP/1.1 ${status} ${status === 403 ? "Forbidden" : status === 404 ? "Not Found" : "Error"}\r\n` +
          Object.entries({
            ...headers,
            "content-length": String(Buffer.byteLength(body)),
            connection: "close",
          })
            .map(([k, v]) => `${k}: ${v}\r\n`)
            .join("") +
          `\r\n${body}`,
      );
    });
  });
  // Relayed connections are raw sockets the server no longer tracks; closing ends them too.
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  log.info({ address, port, publicUrl: base }, "ports.listening");
  return {
    address: `http://${address.includes(":") ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
