import { execFile } from "node:child_process";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { promisify } from "node:util";
import { and, eq } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, type NetworkPolicy } from "@tandem/core";
import {
  buildApp,
  createEgressProxy,
  type GatewayIdentity,
  type IntegrationInterceptor,
} from "@tandem/web";
import { startUpstreams, type Upstreams } from "./fixtures/egress-upstreams.ts";
import { apiClient, otherOrganization, ownerToken } from "./helpers/api.ts";
import { untilDefined } from "./helpers/poll.ts";
import { startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

const run = promisify(execFile);

/** curl through the proxy, its own config ignored (-q); the status code, then the body. */
async function curl(proxyPort: number, url: string, ...args: string[]) {
  const { stdout } = await run("curl", [
    "-q",
    "-sS",
    "--max-time",
    "10",
    "-x",
    `http://127.0.0.1:${proxyPort}`,
    ...args,
    "-w",
    "\n%{http_code} %{http_connect}",
    url,
  ]).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
  const at = stdout.lastIndexOf("\n");
  const [status, connect] = stdout.slice(at + 1).split(" ");
  return { body: stdout.slice(0, at), status: Number(status), connectStatus: Number(connect) };
}

/** A raw CONNECT with `extra` written in the same packet; the proxy's first answer line and all it sent. */
function rawConnect(proxyPort: number, target: string, extra = "") {
  return new Promise<{ socket: net.Socket; head: string }>((resolve, reject) => {
    const socket = net.connect(proxyPort, "127.0.0.1", () =>
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n${extra}`),
    );
    let data = "";
    socket.on("data", (d) => {
      data += d;
      if (data.includes("\r\n\r\n")) {
        socket.removeAllListeners("data");
        resolve({ socket, head: data });
      }
    });
    socket.on("error", reject);
  });
}

/** Pretends to be the integration interceptor: records what it was handed and answers "got:<first bytes>". */
function recordingInterceptor(host: string) {
  const handed: Array<{ host: string; label: string; first: string }> = [];
  const interceptor: IntegrationInterceptor = {
    handles: (h) => h === host,
    serve(socket: Duplex, h, identity) {
      socket.once("data", (d: Buffer) => {
        handed.push({ host: h, label: identity.profileLabel, first: d.toString() });
        socket.end(`got:${d}`);
      });
    },
  };
  return { interceptor, handed };
}

describe("the sandbox egress proxy", () => {
  let rt: TestRuntime;
  let up: Upstreams;
  let app: FastifyInstance;
  let sessionId: string;
  const metrics = new Registry();
  const proxies: http.Server[] = [];
  const intercepted = recordingInterceptor("github.intercept.test");

  /** A proxy (on a loopback port, as the gateway would hand it sockets) for sandboxes with `policy`. */
  async function proxyFor(policy: NetworkPolicy | null, label = "profile node v3") {
    const identity: GatewayIdentity | undefined = policy
      ? {
          grant: { orgId: rt.defaultOrgId, repositoryIds: [], sessionId, purpose: "session" },
          policy,
          profileLabel: label,
        }
      : undefined;
    const server = createEgressProxy(
      { db: rt.database.db, logger: rt.logger, clock: rt.clock, config: rt.config },
      { identify: () => identity, interceptor: intercepted.interceptor, metrics },
    );
    proxies.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  }
  const rowsFor = (host: string) =>
    rt.database.db
      .select()
      .from(schema.sandboxEgress)
      .where(
        and(eq(schema.sandboxEgress.sessionId, sessionId), eq(schema.sandboxEgress.host, host)),
      );
  const closedRow = (host: string) =>
    untilDefined(`a closed record for ${host}`, async () =>
      (await rowsFor(host)).find((r) => r.closedAt),
    );
  /** The host's records once there are `n` of them (they are written beside the answer, not before it). */
  const rowsOnce = (host: string, n: number) =>
    untilDefined(`${n} records for ${host}`, async () => {
      const rows = await rowsFor(host);
      return rows.length >= n ? rows : undefined;
    });

  let allowlist: number;
  let none: number;
  let open: number;
  beforeAll(async () => {
    up = await startUpstreams();
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    rt = await startTestRuntime("postgres", {
      SANDBOX_HOST_ALIASES: [
        `down.test=127.0.0.1:${closedPort}`,
        `plain.test=127.0.0.1:${up.http.port}`,
        `tls.test=127.0.0.1:${up.https.port}`,
        `echo.test=127.0.0.1:${up.echo.port}`,
        `api.wild.test=127.0.0.1:${up.http.port}`,
      ].join(","),
    });
    app = await buildApp({ ...rt, metrics });
    await app.ready();
    const [repo] = await rt.database.db
      .insert(schema.repositories)
      .values({
        orgId: rt.defaultOrgId,
        name: "acme/app",
        cloneUrl: "https://git.example.test/acme/app.git",
      })
      .returning();
    const [session] = await rt.database.db
      .insert(schema.sessions)
      .values({ orgId: rt.defaultOrgId, repositoryId: repo!.id, prompt: "p" })
      .returning();
    sessionId = session!.id;
    allowlist = await proxyFor({
      egress: "allowlist",
      allow: ["plain.test", "tls.test", "echo.test", "*.wild.test"],
    });
    none = await proxyFor({ egress: "none", allow: [] }, "profile locked v1");
    open = await proxyFor({ egress: "open", allow: [] });
  });
  afterAll(async () => {
    for (const p of proxies) {
      p.closeAllConnections();
      await new Promise((r) => p.close(r));
    }
    await app?.close();
    await rt?.close();
    await up?.close();
  });

  describe("allowlist", () => {
    it("forwards an absolute-URI request to an allowed host, without the Proxy-* and hop-by-hop headers", async () => {
      const res = await curl(
        allowlist,
        "http://plain.test/hello?x=1",
        "-H",
        "Proxy-Authorization: Basic c2VjcmV0",
        "-H",
        "X-Mine: yes",
        "-d",
        "body!",
      );
      expect(res).toMatchObject({ status: 200, body: "POST /hello?x=1 body!" });
      const seen = up.http.requests.at(-1)!;
      expect(seen.headers).toMatchObject({ host: "plain.test", "x-mine": "yes" });
      expect(seen.headers["proxy-authorization"]).toBeUndefined();
      expect(seen.headers["proxy-connection"]).toBeUndefined();
      const row = await closedRow("plain.test");
      expect(row).toMatchObject({
        method: "POST",
        port: 80,
        decision: "allowed",
        bytesUp: 5,
        bytesDown: "POST /hello?x=1 body!".length,
        purpose: "session",
        orgId: rt.defaultOrgId,
      });
    });

    it("matches *.suffix entries on subdomains", async () => {
      expect(await curl(allowlist, "http://api.wild.test/w")).toMatchObject({
        status: 200,
        body: "GET /w ",
      });
    });

    it("tunnels CONNECT to an allowed host: curl speaks TLS to the upstream through it", async () => {
      const res = await curl(allowlist, "https://tls.test/", "--cacert", up.https.caFile);
      expect(res).toMatchObject({ status: 200, connectStatus: 200, body: "hello over tls" });
      const row = await closedRow("tls.test");
      expect(row).toMatchObject({ method: "CONNECT", port: 443, decision: "allowed" });
      expect(row.bytesUp).toBeGreaterThan(100);
      expect(row.bytesDown).toBeGreaterThan(500); // the certificate, at least
    });

    it("passes bytes written right after the CONNECT head to the upstream and counts both ways", async () => {
      const { socket, head } = await rawConnect(allowlist, "echo.test:7", "ping");
      expect(head).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\n/);
      let echoed = head.slice(head.indexOf("\r\n\r\n") + 4);
      while (echoed.length < 4)
        echoed += await new Promise<string>((resolve) =>
          socket.once("data", (d) => resolve(String(d))),
        );
      expect(echoed).toBe("ping");
      socket.end();
      expect(await closedRow("echo.test")).toMatchObject({
        method: "CONNECT",
        port: 7,
        decision: "allowed",
        bytesUp: 4,
        bytesDown: 4,
      });
    });

    it("refuses another host with a 403 naming it and the profile version, for requests and tunnels alike", async () => {
      const text =
        "blocked by the sandbox network policy: elsewhere.test is not allowed (profile node v3)";
      const res = await curl(allowlist, "http://elsewhere.test/");
      expect(res.status).toBe(403);
      expect(res.body.trim()).toBe(text);
      const tunnel = await rawConnect(allowlist, "elsewhere.test:443");
      expect(tunnel.head).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
      expect(tunnel.head).toMatch(/content-type: text\/plain/);
      const body = await new Promise<string>((resolve) => {
        let rest = tunnel.head.slice(tunnel.head.indexOf("\r\n\r\n") + 4);
        tunnel.socket.on("data", (d) => (rest += d));
        tunnel.socket.on("end", () => resolve(rest));
      });
      expect(body.trim()).toBe(text);
      expect(await curl(allowlist, "https://elsewhere.test/")).toMatchObject({
        connectStatus: 403,
      });
      const rows = await rowsOnce("elsewhere.test", 3);
      expect(rows.map((r) => [r.method, r.decision, r.reason])).toEqual(
        expect.arrayContaining([
          ["GET", "blocked", "egress allowlist"],
          ["CONNECT", "blocked", "egress allowlist"],
        ]),
      );
      expect(rows.every((r) => r.closedAt && r.bytesUp === 0 && r.bytesDown === 0)).toBe(true);
    });
  });

  describe("none", () => {
    it("refuses every host, aliases included", async () => {
      const res = await curl(none, "http://plain.test/");
      expect(res.status).toBe(403);
      expect(res.body.trim()).toBe(
        "blocked by the sandbox network policy: plain.test is not allowed (profile locked v1)",
      );
      expect(await curl(none, "https://tls.test/", "--cacert", up.https.caFile)).toMatchObject({
        connectStatus: 403,
      });
    });

    it("hands an integration host's tunnel to the interceptor, with the bytes sent after the CONNECT head", async () => {
      const { socket, head } = await rawConnect(none, "github.intercept.test:443", "\x16hello");
      expect(head).toMatch(/^HTTP\/1\.1 200 Connection Established\r\n\r\n/);
      const reply = await new Promise<string>((resolve) => {
        let got = head.slice(head.indexOf("\r\n\r\n") + 4);
        socket.on("data", (d) => (got += d));
        socket.on("end", () => resolve(got));
      });
      expect(reply).toBe("got:\x16hello");
      expect(intercepted.handed).toEqual([
        { host: "github.intercept.test", label: "profile locked v1", first: "\x16hello" },
      ]);
      expect(await closedRow("github.intercept.test")).toMatchObject({
        method: "CONNECT",
        decision: "intercepted",
        reason: "integration",
        bytesUp: "\x16hello".length,
        bytesDown: "got:\x16hello".length,
      });
    });
  });

  describe("open", () => {
    it("tunnels any host (an alias here: tests reach only loopback)", async () => {
      expect(await curl(open, "https://tls.test/", "--cacert", up.https.caFile)).toMatchObject({
        status: 200,
        body: "hello over tls",
      });
    });

    it.each([
      ["127.0.0.1:5432", "127.0.0.1", "loopback address 127.0.0.1"],
      ["127.0.0.1:6379", "127.0.0.1", "loopback address 127.0.0.1"],
      ["169.254.169.254:80", "169.254.169.254", "link-local address 169.254.169.254"],
      ["[::1]:443", "::1", "loopback address ::1"],
      ["10.1.2.3:443", "10.1.2.3", "private address 10.1.2.3"],
    ])("refuses CONNECT %s whatever the policy", async (target, host, reason) => {
      const { head } = await rawConnect(open, target);
      expect(head).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
      expect(head).toContain(
        `blocked by the sandbox network policy: ${host} is not allowed (it is a ${reason.split(" ")[0]} address`,
      );
      await untilDefined(`the ${reason} record`, async () =>
        (await rowsFor(host)).some((r) => r.reason === reason) ? true : undefined,
      );
    });

    it("refuses before connecting: a loopback listener by its literal address never sees the connection", async () => {
      const res = await curl(open, `http://127.0.0.1:${up.watched.port}/`);
      expect(res.status).toBe(403);
      const tunnel = await rawConnect(open, `127.0.0.1:${up.watched.port}`);
      expect(tunnel.head).toMatch(/^HTTP\/1\.1 403/);
      expect(up.watched.connections).toBe(0);
    });

    it("refuses a name that resolves to loopback (localhost), and the metadata address by plain HTTP", async () => {
      const res = await curl(open, `http://localhost:${up.watched.port}/`);
      expect(res.status).toBe(403);
      expect(res.body).toMatch(
        /^blocked by the sandbox network policy: localhost is not allowed \(it resolves to (127\.0\.0\.1|::1), a loopback address/,
      );
      expect((await curl(open, "http://169.254.169.254/latest/meta-data/")).status).toBe(403);
      expect(up.watched.connections).toBe(0);
    });
  });

  it("answers 502 with the reason when an allowed upstream cannot be reached", async () => {
    const { head, socket } = await rawConnect(open, "down.test:443");
    expect(head).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    const rest = await new Promise<string>((resolve) => {
      let r = head;
      socket.on("data", (d) => (r += d));
      socket.on("end", () => resolve(r));
    });
    expect(rest).toContain(
      "the sandbox gateway could not reach down.test:443 (connect ECONNREFUSED",
    );
    const res = await curl(open, "http://down.test/");
    expect(res.status).toBe(502);
    expect(res.body).toContain("could not reach down.test:80");
    await untilDefined("both records closed", async () =>
      (await rowsFor("down.test")).filter((r) => r.closedAt).length === 2 ? true : undefined,
    );
  });

  it("answers 407 for a connection the gateway did not identify", async () => {
    const port = await proxyFor(null);
    expect((await curl(port, "http://plain.test/")).status).toBe(407);
    expect((await rawConnect(port, "plain.test:80")).head).toMatch(/^HTTP\/1\.1 407/);
  });

  it("counts decisions in tandem_sandbox_egress_total on the app's /metrics", async () => {
    const count = async (decision: string) => {
      const text = (await app.inject({ method: "GET", url: "/metrics" })).body;
      return Number(
        new RegExp(`^tandem_sandbox_egress_total\\{decision="${decision}"\\} (\\d+)`, "m").exec(
          text,
        )?.[1] ?? 0,
      );
    };
    const blocked = await count("blocked");
    const allowed = await count("allowed");
    await curl(allowlist, "http://nope.test/");
    await curl(allowlist, "http://plain.test/again");
    expect(await count("blocked")).toBe(blocked + 1);
    expect(await count("allowed")).toBe(allowed + 1);
    expect(await count("intercepted")).toBeGreaterThanOrEqual(1);
  });

  it("shows the session's decisions, newest first, to its org's members only", async () => {
    await curl(allowlist, "http://plain.test/latest");
    await untilDefined("the latest request's record", async () =>
      (await rowsFor("plain.test")).find((r) => r.closedAt) ? true : undefined,
    );
    const owner = apiClient(app, await ownerToken(rt));
    const res = await owner.request("GET", `/api/sessions/${sessionId}/network?limit=3`);
    expect(res.status).toBe(200);
    expect(res.body.connections).toHaveLength(3);
    expect(res.body.connections[0]).toMatchObject({
      host: "plain.test",
      method: "GET",
      decision: "allowed",
      port: 80,
    });
    const times = res.body.connections.map((c: { createdAt: string }) => c.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    const all = await owner.request("GET", `/api/sessions/${sessionId}/network`);
    expect(all.body.connections.map((c: { decision: string }) => c.decision)).toEqual(
      expect.arrayContaining(["allowed", "blocked", "intercepted"]),
    );
    const other = apiClient(app, (await otherOrganization(rt)).token);
    expect((await other.request("GET", `/api/sessions/${sessionId}/network`)).status).toBe(404);
  });
});
