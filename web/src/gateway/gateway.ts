import { chmod, copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { eq } from "drizzle-orm";
import Fastify, { type FastifyBaseLogger } from "fastify";
import {
  AppError,
  DEFAULT_NETWORK_POLICY,
  GATEWAY_CA_BUNDLE,
  GATEWAY_CA_CERT,
  GATEWAY_CONTROL_SOCKET,
  GATEWAY_FORWARDER,
  GATEWAY_SOCKET,
  gatewayCaDir,
  gatewayDir,
  sandboxGrantForToken,
  schema,
  storedSpec,
  type SandboxGrant,
} from "@tandem/core";
import { answerErrors } from "../app.ts";
import type { WebDeps } from "../deps.ts";
import { modelProxyRoutes } from "../routes/model-proxy.ts";
import { sandboxGitRoutes } from "../routes/sandbox-git.ts";
import { loadOrCreateCa } from "./ca.ts";
import { createEgressProxy } from "./egress-proxy.ts";
import { createIntegrationInterceptor } from "./integrations.ts";
import type { GatewayIdentity } from "./types.ts";

/**
 * `TANDEM/1 proxy <token>\n`, the forwarder's first line on every proxy connection. (`control`
 * is still taken from forwarders started before the control plane had its own socket.)
 */
const PREAMBLE = /^TANDEM\/1 (proxy|control) (\S+)$/;
const MAX_PREAMBLE_BYTES = 512;
const PREAMBLE_TIMEOUT_MS = 5_000;

export interface SandboxGateway {
  socketPath: string;
  controlSocketPath: string;
  close(): Promise<void>;
}

/**
 * The sandbox gateway: the one way out of a gateway sandbox (`--network none`). It listens on two
 * unix sockets in its directory, which sandboxes mount read-only along with the forwarder it
 * copies there. The egress proxy's (the policy, the integrations): each connection carries the
 * sandbox token, and one that grants nothing is refused before a byte is forwarded. The control
 * plane's serves only the model proxy and the git remote, whose routes check the token on every
 * request: none of Tandem's other routes is reachable from a sandbox.
 * The integration hosts (GitHub, Slack, Linear, Jira) are served by the interceptor, with
 * certificates of Tandem's CA, whose certificate (never its key) is in the directory too.
 */
export async function startSandboxGateway(deps: WebDeps): Promise<SandboxGateway> {
  const dir = gatewayDir(deps.config);
  const caDir = path.resolve(gatewayCaDir(deps.config));
  if (`${caDir}/`.startsWith(`${dir}/`)) {
    throw new AppError(
      "gateway_ca_exposed",
      `GATEWAY_CA_DIR (${caDir}) is inside GATEWAY_DIR (${dir}), which every sandbox mounts: keep the CA's key elsewhere`,
      500,
    );
  }
  const socketPath = path.join(dir, GATEWAY_SOCKET);
  const controlSocketPath = path.join(dir, GATEWAY_CONTROL_SOCKET);
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const ca = await loadOrCreateCa(caDir, { clock: deps.clock });
  // What sandboxes mount, world-readable: the forwarder, Tandem's CA alone (NODE_EXTRA_CA_CERTS),
  // and a bundle of the public roots plus it (SSL_CERT_FILE and the like replace the system's).
  await copyFile(new URL("./forwarder.mjs", import.meta.url), path.join(dir, GATEWAY_FORWARDER));
  await writeFile(path.join(dir, GATEWAY_CA_CERT), ca.certPem);
  await writeFile(
    path.join(dir, GATEWAY_CA_BUNDLE),
    `${[...tls.rootCertificates, ca.certPem.trim()].join("\n")}\n`,
  );
  for (const file of [GATEWAY_FORWARDER, GATEWAY_CA_CERT, GATEWAY_CA_BUNDLE])
    await chmod(path.join(dir, file), 0o644);
  const interceptor = createIntegrationInterceptor(
    {
      config: deps.config,
      logger: deps.logger,
      integrations: deps.providers.flatMap((p) => (p.integration ? [p.integration] : [])),
    },
    ca,
  );

  const identities = new WeakMap<net.Socket, GatewayIdentity>();
  const egress = createEgressProxy(
    { db: deps.database.db, logger: deps.logger, clock: deps.clock, config: deps.config },
    { identify: (socket) => identities.get(socket), interceptor, metrics: deps.metrics },
  );
  const control = Fastify({
    loggerInstance: deps.logger.child({ gateway: "control" }) as FastifyBaseLogger,
    bodyLimit: 2 * 1024 * 1024,
  });
  answerErrors(control);
  modelProxyRoutes(control, deps);
  sandboxGitRoutes(control, deps);
  await control.ready();

  /** Open connections: a sandbox's keep-alive ones would hold `close` up forever. */
  const open = new Set<net.Socket>();
  const listen = async (socketPath: string, onConnection: (socket: net.Socket) => void) => {
    const server = net.createServer((socket) => {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      socket.on("error", () => socket.destroy());
      onConnection(socket);
    });
    await rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      server.once("error", reject).listen(socketPath, () => resolve()),
    );
    // The sandbox's user (uid 1000) connects; the sockets are the only things in the mount it may use.
    await chmod(socketPath, 0o666);
    return server;
  };
  const servers = [
    await listen(socketPath, (socket) => {
      void admit(deps, socket).then(
        (admitted) => {
          if (!admitted) return;
          if (admitted.identity) identities.set(socket, admitted.identity);
          (admitted.service === "proxy" ? egress : control.server).emit("connection", socket);
          // Paused while the preamble was read; a server's 'data' listener does not start it again.
          socket.resume();
        },
        (err: unknown) => {
          deps.logger.error({ err }, "gateway.failed");
          socket.destroy();
        },
      );
    }),
    await listen(controlSocketPath, (socket) => control.server.emit("connection", socket)),
  ];
  deps.logger.info({ socket: socketPath, control: controlSocketPath }, "gateway.listening");

  return {
    socketPath,
    controlSocketPath,
    async close() {
      const closed = Promise.all(
        servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
      );
      for (const socket of open) socket.destroy();
      await closed;
      interceptor.close();
      await control.close();
      await Promise.all([socketPath, controlSocketPath].map((p) => rm(p, { force: true })));
    },
  };
}

/** Reads and checks the preamble; the bytes after it are put back for the service. */
async function admit(
  deps: WebDeps,
  socket: net.Socket,
): Promise<{ service: "proxy" | "control"; identity?: GatewayIdentity } | null> {
  const line = await readLine(socket);
  const m = line === null ? null : PREAMBLE.exec(line.text);
  const grant = m
    ? await sandboxGrantForToken({ db: deps.database.db, clock: deps.clock }, m[2]!)
    : null;
  if (!m || !grant) {
    deps.logger.warn({ preamble: m ? "unknown token" : "malformed" }, "gateway.refused");
    const text =
      "the sandbox gateway does not know this sandbox's token (its session may have ended)\n";
    socket.end(
      `HTTP/1.1 407 Proxy Authentication Required\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\nconnection: close\r\n\r\n${text}`,
    );
    return null;
  }
  if (line!.rest.length) socket.unshift(line!.rest);
  const service = m[1] as "proxy" | "control";
  // The control plane's routes check the token on each request themselves; only the proxy needs the policy.
  return { service, identity: service === "proxy" ? await identityFor(deps, grant) : undefined };
}

function readLine(socket: net.Socket): Promise<{ text: string; rest: Buffer } | null> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const finish = (value: { text: string; rest: Buffer } | null) => {
      clearTimeout(timer);
      socket.off("data", onData).off("end", onEnd);
      socket.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const at = buf.indexOf(0x0a);
      if (at >= 0)
        finish({ text: buf.subarray(0, at).toString("utf8"), rest: buf.subarray(at + 1) });
      else if (buf.length > MAX_PREAMBLE_BYTES) finish(null);
    };
    const onEnd = () => finish(null);
    const timer = setTimeout(() => finish(null), PREAMBLE_TIMEOUT_MS);
    socket.on("data", onData).on("end", onEnd);
  });
}

/** A build token carries its policy; a session's comes from its profile version. */
async function identityFor(deps: WebDeps, grant: SandboxGrant): Promise<GatewayIdentity> {
  if (grant.build) return { grant, policy: grant.build.network, profileLabel: grant.build.label };
  const { db } = deps.database;
  const session = grant.sessionId
    ? await db.query.sessions.findFirst({ where: eq(schema.sessions.id, grant.sessionId) })
    : undefined;
  const [row] = session?.profileVersionId
    ? await db
        .select({
          spec: schema.sandboxProfileVersions.spec,
          version: schema.sandboxProfileVersions.version,
          name: schema.sandboxProfiles.name,
        })
        .from(schema.sandboxProfileVersions)
        .innerJoin(
          schema.sandboxProfiles,
          eq(schema.sandboxProfiles.id, schema.sandboxProfileVersions.profileId),
        )
        .where(eq(schema.sandboxProfileVersions.id, session.profileVersionId))
    : [];
  if (!row)
    return { grant, policy: DEFAULT_NETWORK_POLICY, profileLabel: "no profile", integrations: [] };
  const spec = storedSpec(row.spec);
  return {
    grant,
    policy: spec.network,
    profileLabel: `profile ${row.name} v${row.version}`,
    integrations: spec.integrations,
  };
}
