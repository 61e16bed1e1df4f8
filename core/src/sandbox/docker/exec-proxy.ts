import { chmodSync, rmSync } from "node:fs";
import http from "node:http";
import type { Duplex } from "node:stream";
import { AppError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { execUserRefusal, routeOf, type ProxyRoute } from "./exec-proxy-rules.ts";

/**
 * A Docker API socket for a process that must reach running sandboxes (the web: terminals, the
 * TUI, Changes, Processes, ports, attachments) but must not hold the engine: a process holding
 * the real socket (the worker) serves it, and it forwards only inspect and exec on containers
 * labelled `tandem.managed=true`, never as root or privileged (rules in exec-proxy-rules.ts).
 * Everything else is a 403 naming the rule.
 */
export interface DockerExecProxy {
  path: string;
  close(): Promise<void>;
}

/** The engine socket the proxy forwards to: the worker's own `DOCKER_HOST`, which must be a unix socket. */
export function engineSocketOf(dockerHost: string | undefined): string {
  if (!dockerHost) return "/var/run/docker.sock";
  const url = new URL(dockerHost);
  if (url.protocol !== "unix:") {
    throw new AppError(
      "config",
      `DOCKER_EXEC_PROXY_SOCKET forwards to a local engine socket, and DOCKER_HOST is ${url.protocol}//…; unset one of them`,
      500,
    );
  }
  return url.pathname;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** Exec ids this proxy made, oldest first; a terminal may resize its exec hours later. */
const MAX_EXECS = 50_000;

type Upstream = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

export async function startDockerExecProxy(opts: {
  listenPath: string;
  /** The real engine socket. */
  upstreamSocket: string;
  logger: Logger;
  /** The socket file's mode; the default lets any user that reaches its folder connect. */
  mode?: number;
}): Promise<DockerExecProxy> {
  const { upstreamSocket, logger } = opts;
  const execs = new Set<string>();
  const remember = (id: string) => {
    execs.add(id);
    if (execs.size > MAX_EXECS) execs.delete(execs.values().next().value!);
  };

  const upstream = (
    method: string,
    path: string,
    headers: http.OutgoingHttpHeaders,
    body?: Buffer,
  ) =>
    new Promise<Upstream>((resolve, reject) => {
      const req = http.request(
        { socketPath: upstreamSocket, method, path, headers: { ...headers, host: "docker" } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 502,
              headers: res.headers,
              body: Buffer.concat(chunks),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  /** Passes a request through unchanged and streams the answer back. */
  const pipeThrough = (req: http.IncomingMessage, res: http.ServerResponse, path: string) => {
    const up = http.request(
      { socketPath: upstreamSocket, method: req.method, path, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", (err) => fail(res, err));
    req.pipe(up);
  };

  const refuse = (
    res: http.ServerResponse,
    route: { message: string },
    req: http.IncomingMessage,
  ) => {
    logger.warn({ method: req.method, url: req.url }, "docker_proxy.refused");
    send(res, {
      status: 403,
      headers: { "content-type": "application/json" },
      body: Buffer.from(JSON.stringify({ message: route.message })),
    });
  };
  const fail = (res: http.ServerResponse, err: unknown) => {
    logger.warn({ err }, "docker_proxy.upstream_failed");
    if (!res.headersSent)
      send(res, {
        status: 502,
        headers: { "content-type": "application/json" },
        body: Buffer.from(
          JSON.stringify({
            message: `docker exec proxy: the engine did not answer: ${(err as Error).message}`,
          }),
        ),
      });
    else res.destroy();
  };

  /** The container behind an id or name, when it is a Tandem sandbox; otherwise the answer to give. */
  const sandboxOf = async (route: Extract<ProxyRoute, { kind: "container" }>) => {
    const found = await upstream("GET", `${route.version}/containers/${route.id}/json`, {});
    if (found.status !== 200) return { answer: found };
    const info = JSON.parse(found.body.toString()) as {
      Id: string;
      Config?: { Labels?: Record<string, string>; User?: string };
    };
    if (info.Config?.Labels?.["tandem.managed"] !== "true") {
      return {
        refusal: `docker exec proxy: container ${route.id} is not a Tandem sandbox (no label tandem.managed=true); only sandboxes are reachable`,
      };
    }
    return { info, found };
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const route = routeOf(req.method ?? "", req.url ?? "");
    if (route.kind === "refused") return refuse(res, route, req);
    if (route.kind === "plain") return pipeThrough(req, res, route.path);
    if (route.kind === "exec") {
      if (!execs.has(route.id))
        return refuse(
          res,
          { message: `docker exec proxy: exec ${route.id} was not made through this proxy` },
          req,
        );
      return pipeThrough(req, res, route.path);
    }
    const body = await readBody(req);
    const sandbox = await sandboxOf(route);
    if ("answer" in sandbox) return send(res, sandbox.answer!);
    if ("refusal" in sandbox) return refuse(res, { message: sandbox.refusal! }, req);
    if (route.action === "inspect") return send(res, sandbox.found);
    let exec: { Privileged?: unknown; User?: unknown };
    try {
      exec = JSON.parse(body.toString() || "{}");
    } catch {
      return send(res, {
        status: 400,
        headers: { "content-type": "application/json" },
        body: Buffer.from('{"message":"docker exec proxy: the exec body is not JSON"}'),
      });
    }
    if (exec.Privileged)
      return refuse(res, { message: "docker exec proxy: a privileged exec is refused" }, req);
    const userRefusal = execUserRefusal(exec.User, sandbox.info.Config?.User);
    if (userRefusal) return refuse(res, { message: userRefusal }, req);
    const made = await upstream(
      "POST",
      `${route.version}/containers/${sandbox.info.Id}/exec${route.query}`,
      { "content-type": "application/json" },
      body,
    );
    if (made.status === 201) remember((JSON.parse(made.body.toString()) as { Id: string }).Id);
    send(res, made);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => fail(res, err));
  });
  // `exec/start` with stdin is hijacked: an HTTP upgrade after which the connection is the stream.
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const route = routeOf(req.method ?? "", req.url ?? "");
    const allowed = route.kind === "exec" && route.action === "start" && execs.has(route.id);
    if (!allowed) {
      logger.warn({ method: req.method, url: req.url }, "docker_proxy.refused");
      const message =
        route.kind === "refused"
          ? route.message
          : "docker exec proxy: only POST /exec/<id>/start of an exec made through this proxy may be hijacked";
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ message })}`,
      );
      return;
    }
    tunnel(upstreamSocket, req, route.path, socket, head, logger);
  });

  rmSync(opts.listenPath, { force: true }); // a socket left by a process that died
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.listenPath, () => resolve());
  });
  chmodSync(opts.listenPath, opts.mode ?? 0o666);
  logger.info({ path: opts.listenPath }, "docker_proxy.listening");
  return {
    path: opts.listenPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Sends the upgrade request upstream; on the engine's 101 the two connections are joined byte for
 * byte (the exec's stdin and output). Any other answer is relayed and the connection closed, so
 * nothing unchecked can follow on it.
 */
function tunnel(
  upstreamSocket: string,
  req: http.IncomingMessage,
  path: string,
  client: Duplex,
  head: Buffer,
  logger: Logger,
) {
  const length = Number(req.headers["content-length"] ?? 0);
  let pending = head;
  const go = () => {
    const body = pending.subarray(0, length);
    const early = pending.subarray(length); // stdin sent before the answer, if any
    const up = http.request({
      socketPath: upstreamSocket,
      method: "POST",
      path,
      headers: req.headers,
    });
    up.on("upgrade", (upRes, upSocket, upHead) => {
      client.write(
        `HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}\r\n${rawHeaderLines(upRes.rawHeaders)}\r\n`,
      );
      if (upHead.length) client.write(upHead);
      if (early.length) upSocket.write(early);
      upSocket.pipe(client);
      client.pipe(upSocket);
      upSocket.on("error", () => client.destroy());
      client.on("error", () => upSocket.destroy());
    });
    up.on("response", (upRes) => {
      client.write(
        `HTTP/1.1 ${upRes.statusCode} ${upRes.statusMessage}\r\n${rawHeaderLines(upRes.rawHeaders)}\r\n`,
      );
      upRes.pipe(client);
    });
    up.on("error", (err) => {
      logger.warn({ err }, "docker_proxy.upstream_failed");
      client.destroy();
    });
    up.end(body);
  };
  if (pending.length >= length) return go();
  const onData = (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    if (pending.length > MAX_BODY_BYTES) return client.destroy();
    if (pending.length < length) return;
    client.off("data", onData);
    client.pause();
    go();
  };
  client.on("data", onData);
}

const rawHeaderLines = (raw: string[]) => {
  let out = "";
  for (let i = 0; i + 1 < raw.length; i += 2) out += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return out;
};

function send(res: http.ServerResponse, answer: Upstream) {
  const { "transfer-encoding": _chunked, connection: _connection, ...headers } = answer.headers;
  res.writeHead(answer.status, { ...headers, "content-length": answer.body.length });
  res.end(answer.body);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
