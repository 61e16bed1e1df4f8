import type { FastifyInstance } from "fastify";
import { createServer, type Server } from "node:net";
import { isNull } from "drizzle-orm";
import { createSandboxProvider, portsPublicUrl, schema, type SandboxProvider } from "@tandem/core";
import type { SandboxGateway } from "@tandem/web";
import { serveWeb, type PortsServer } from "@tandem/web/server";
import { startWorker, type RunningWorker, type WorkerOptions } from "@tandem/worker";
import { apiClient, ownerToken, type ApiClient } from "./api.ts";
import { startTestRuntime, type DbKind, type TestRuntime } from "./runtime.ts";

export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString("base64");

/** `n` distinct free ports: all held open until each is known, so no two are the same. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve) => {
          const srv = createServer().listen(0, "127.0.0.1", () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => (srv.address() as { port: number }).port);
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

export const freePort = async () => (await freePorts(1))[0]!;

export interface Stack {
  rt: TestRuntime;
  app: FastifyInstance;
  /** Serving when the stack's sandboxes use it (SANDBOX_NETWORK=gateway, the default, on docker). */
  gateway?: SandboxGateway;
  worker: RunningWorker;
  sandboxes: SandboxProvider;
  owner: ApiClient;
  base: string;
  /** The ports origin's listener, and the base its hosts are under (`http://localhost:<its port>`). */
  ports: PortsServer;
  portsBase: string;
  close(): Promise<void>;
}

/** Web and worker on real ports, as `npm start` runs them, against a fresh database. */
export async function startStack(
  kind: DbKind,
  env: Record<string, string>,
  workerOptions: Partial<WorkerOptions> & { none?: boolean } = {},
): Promise<Stack> {
  const [port, portsPort] = (await freePorts(2)) as [number, number];
  const rt = await startTestRuntime(kind, {
    PORT: String(port),
    PORTS_PORT: String(portsPort),
    HOST: "127.0.0.1",
    ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
    ...env,
    // "self": the stack's own address, for browsers (WebSocket origin checks compare with it);
    // "self-localhost" the same port named localhost, beside the ports origin's *.localhost hosts.
    ...(env.PUBLIC_URL === "self" ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    ...(env.PUBLIC_URL === "self-localhost" ? { PUBLIC_URL: `http://localhost:${port}` } : {}),
  });
  const sandboxes = workerOptions.sandboxes ?? createSandboxProvider(rt.config, rt.logger);
  const web = await serveWeb({ ...rt, sandboxes });
  const worker = workerOptions.none
    ? { sweepNow: async () => 0, close: async () => {} }
    : startWorker(rt, {
        pollMs: 100,
        sweepIntervalMs: 500,
        providers: rt.providers,
        ...workerOptions,
        sandboxes,
      });
  const owner = apiClient(web.app, await ownerToken(rt));
  return {
    rt,
    app: web.app,
    gateway: web.gateway,
    worker,
    owner,
    base: web.base,
    sandboxes,
    ports: web.ports,
    portsBase: portsPublicUrl(rt.config),
    async close() {
      await worker.close();
      await web.close();
      // What the test left running (idle sessions' sandboxes) goes with the stack: the engine is shared.
      const left = await rt.database.db
        .select({ externalId: schema.sandboxes.externalId })
        .from(schema.sandboxes)
        .where(isNull(schema.sandboxes.removedAt));
      await Promise.all(
        left.map(({ externalId }) => externalId && sandboxes.remove(externalId).catch(() => {})),
      );
      await rt.close();
    },
  };
}

/** Polls until `fn` returns something truthy. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
