import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { execCollect, shellQuote } from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { checkOrigin, requireSameOrigin } from "./origin.ts";
import { liveSandboxOrThrow, requireSession, type LiveSandbox } from "./sandbox-access.ts";

type ClientFrame = { type: "input"; data: string } | { type: "resize"; cols: number; rows: number };

const size = (req: FastifyRequest) => {
  const q = req.query as { cols?: string; rows?: string };
  const clamp = (v: string | undefined, dflt: number) =>
    Math.min(Math.max(Number(v) || dflt, 2), 1000);
  return { cols: clamp(q.cols, 80), rows: clamp(q.rows, 24) };
};

const parseFrame = (raw: string): ClientFrame | null => {
  try {
    const f = JSON.parse(raw) as Partial<ClientFrame> & Record<string, unknown>;
    if (f.type === "input" && typeof f.data === "string") return f as ClientFrame;
    if (f.type === "resize" && Number.isInteger(f.cols) && Number.isInteger(f.rows))
      return f as ClientFrame;
  } catch {
    /* ignored below */
  }
  return null;
};

/**
 * Runs `command` on a TTY in the sandbox and bridges it to the socket. The command runs under a
 * shell that records its pid, so closing the socket can hang it up (Docker execs cannot be killed).
 */
async function bridge(
  deps: WebDeps,
  socket: WebSocket,
  req: FastifyRequest,
  sandbox: LiveSandbox,
  command: string,
  env: Record<string, string>,
) {
  const log = req.log.child({ sessionId: sandbox.session.id });
  const pidFile = `${sandbox.layout.state}/tty-${randomBytes(6).toString("hex")}.pid`;
  const script = `mkdir -p ${shellQuote(sandbox.layout.state)}; echo $$ > ${shellQuote(pidFile)}; cd ${shellQuote(sandbox.workdir)} 2>/dev/null || cd; exec ${command}`;
  // Frames that arrive while the exec starts are queued, not lost.
  const early: ClientFrame[] = [];
  let handle: ((frame: ClientFrame) => void) | undefined;
  socket.on("message", (data, isBinary) => {
    const frame = isBinary ? null : parseFrame(data.toString());
    if (frame) (handle ?? ((f: ClientFrame) => early.push(f)))(frame);
  });
  let closed = false;
  socket.on("close", () => {
    closed = true;
  });
  const proc = await sandbox.provider.exec(sandbox.id, ["sh", "-c", script], {
    tty: true,
    stdin: true,
    size: size(req),
    env: { ...sandbox.env, ...env },
  });
  const decoder = new TextDecoder("utf-8");
  proc.stdout.on("data", (chunk: Buffer) => {
    const text = decoder.decode(chunk, { stream: true });
    if (text && socket.readyState === socket.OPEN) socket.send(text);
  });
  let exited = false;
  void proc
    .wait()
    .then(({ exitCode }) => {
      exited = true;
      const rest = decoder.decode();
      if (socket.readyState === socket.OPEN) {
        if (rest) socket.send(rest);
        socket.send(JSON.stringify({ type: "exit", code: exitCode }));
        socket.close(1000, "exited");
      }
    })
    .catch((err) => log.warn({ err }, "terminal.wait_failed"));

  handle = (frame) => {
    if (frame.type === "input") proc.stdin?.write(frame.data);
    else
      void proc
        .resize({ cols: frame.cols, rows: frame.rows })
        .catch((err) => log.debug({ err }, "terminal.resize_failed"));
  };
  early.splice(0).forEach(handle);
  const hangUp = () => {
    proc.stdin?.end();
    if (exited) return;
    // Hang up the shell (bash passes SIGHUP on to its jobs), then make sure it is gone.
    const kill =
      `p="$(cat ${shellQuote(pidFile)} 2>/dev/null)"; rm -f ${shellQuote(pidFile)}; [ -n "$p" ] || exit 0;` +
      ` kill -HUP -"$p" 2>/dev/null; kill -HUP "$p" 2>/dev/null; sleep 1; kill -KILL "$p" 2>/dev/null; true`;
    void execCollect(sandbox.provider, sandbox.id, ["sh", "-c", kill]).catch((err) =>
      log.warn({ err }, "terminal.kill_failed"),
    );
  };
  if (closed) hangUp();
  else socket.on("close", hangUp);
}

/** The workbench's terminals: a login shell, and the agent's own TUI on the same thread. */
export function terminalRoutes(app: FastifyInstance, deps: WebDeps) {
  const preValidation = requireSameOrigin(deps);
  // Auth, org and sandbox state are checked before the upgrade, so failures are plain HTTP answers.
  const preHandler = async (req: FastifyRequest) => {
    const session = await requireSession(deps, req);
    (req as FastifyRequest & { liveSandbox?: LiveSandbox }).liveSandbox = await liveSandboxOrThrow(
      deps,
      session,
    );
  };
  const sandboxOf = (req: FastifyRequest) =>
    (req as FastifyRequest & { liveSandbox: LiveSandbox }).liveSandbox;

  // A browser only learns that an upgrade failed, not why: the panel asks here, with the same checks.
  for (const kind of ["terminal", "tui"])
    app.get(`/api/sessions/:id/${kind}/check`, async (req) => {
      checkOrigin(deps, (req.query as { origin?: string }).origin);
      await preHandler(req);
      return { ok: true };
    });

  app.get(
    "/api/sessions/:id/terminal",
    { websocket: true, preValidation, preHandler },
    async (socket, req) => {
      await bridge(deps, socket, req, sandboxOf(req), "bash -l", {}).catch((err) =>
        failed(socket, req, err),
      );
    },
  );

  app.get(
    "/api/sessions/:id/tui",
    { websocket: true, preValidation, preHandler },
    async (socket, req) => {
      const sandbox = sandboxOf(req);
      const thread = sandbox.session.agentThreadId;
      // The model token is read from the sandbox's token file, so it never passes through this process.
      const token = `TANDEM_MODEL_TOKEN="$(cat ${shellQuote(`${sandbox.layout.state}/token`)} 2>/dev/null)"`;
      // The person already trusts the checkout (the agent works in it), so skip Codex's folder-trust prompt.
      const trust = `projects={ ${JSON.stringify(sandbox.workdir)} = { trust_level = "trusted" } }`;
      const command = `env ${token} codex -c ${shellQuote(trust)} ${thread ? `resume ${shellQuote(thread)}` : ""}`;
      await bridge(deps, socket, req, sandbox, command, {
        CODEX_HOME: `${sandbox.layout.state}/agent-home`,
      }).catch((err) => failed(socket, req, err));
    },
  );
}

function failed(socket: WebSocket, req: FastifyRequest, err: unknown) {
  req.log.warn({ err }, "terminal.start_failed");
  if (socket.readyState === socket.OPEN) {
    socket.send(JSON.stringify({ type: "exit", code: -1 }));
    socket.close(1011, "could not start the terminal");
  }
}
