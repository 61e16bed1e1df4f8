import { statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gatewayDir } from "@tandem/core";
import { startSandboxGateway, type SandboxGateway } from "@tandem/web";
import { startGatewayWithSession } from "./helpers/gateway.ts";
import { startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

/** One connection to the gateway's socket: the preamble, then `request`; the whole answer once the gateway closes or `until` matches. */
function talk(
  socketPath: string,
  preamble: string,
  request: string,
  until = /\r\n\r\n[\s\S]*$/,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let got = "";
    socket.on("connect", () => socket.write(`${preamble}${request}`));
    socket.on("data", (d) => {
      got += String(d);
      const body = got.split("\r\n\r\n")[1];
      const length = Number(/content-length: (\d+)/i.exec(got)?.[1] ?? NaN);
      if (
        until.test(got) &&
        body !== undefined &&
        (Number.isNaN(length) || Buffer.byteLength(body) >= length)
      ) {
        socket.destroy();
        resolve(got);
      }
    });
    socket.on("end", () => resolve(got));
    socket.on("error", reject);
  });
}

describe("the sandbox gateway's socket", () => {
  let rt: TestRuntime;
  let app: FastifyInstance;
  let gateway: SandboxGateway;
  let token: string;

  beforeAll(async () => {
    rt = await startTestRuntime("postgres", {});
    ({ app, gateway, token } = await startGatewayWithSession(rt));
  });
  afterAll(async () => {
    await gateway?.close();
    await app?.close();
    await rt?.close();
  });

  it("puts its sockets, the forwarder and Tandem's CA certificate (not its key) in the directory sandboxes mount", () => {
    const dir = gatewayDir(rt.config);
    expect(gateway.socketPath).toBe(path.join(dir, "gateway.sock"));
    expect(gateway.controlSocketPath).toBe(path.join(dir, "control.sock"));
    for (const socket of [gateway.socketPath, gateway.controlSocketPath])
      expect(statSync(socket).mode & 0o777).toBe(0o666);
    for (const file of ["forwarder.mjs", "ca.pem", "ca-bundle.pem"])
      expect(statSync(path.join(dir, file)).mode & 0o777).toBe(0o644);
  });

  it("refuses a proxy connection without a known token before forwarding anything", async () => {
    for (const preamble of [
      "GET / HTTP/1.1\r\n",
      "TANDEM/1 proxy tdm_unknown\n",
      "TANDEM/1 control tdm_unknown\n",
      "TANDEM/1 other x\n",
    ]) {
      const answer = await talk(
        gateway.socketPath,
        preamble,
        "GET /proxy/model/v1/models HTTP/1.1\r\nhost: x\r\n\r\n",
      );
      expect(answer, preamble).toMatch(/^HTTP\/1.1 407 /);
      expect(answer).toContain("the sandbox gateway does not know this sandbox's token");
    }
  });

  it("serves only the model proxy and the git remote on the control socket, each checking the token: Tandem's other routes are not there", async () => {
    for (const route of [
      "/metrics",
      "/api/openapi.json",
      "/api/sessions",
      "/healthz",
      "/sandbox/git-credential",
    ]) {
      const answer = await talk(
        gateway.controlSocketPath,
        "",
        `GET ${route} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`,
      );
      expect(answer, route).toMatch(/^HTTP\/1.1 404 /);
    }
    const git = await talk(
      gateway.controlSocketPath,
      "",
      "GET /sandbox/git/x/info/refs?service=git-upload-pack HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    expect(git).toMatch(/^HTTP\/1.1 401 /);
    expect(git).toMatch(/www-authenticate: Basic/i);
    for (const auth of ["", "authorization: Bearer tdm_unknown\r\n"]) {
      const model = await talk(
        gateway.controlSocketPath,
        "",
        `GET /proxy/model/v1/models HTTP/1.1\r\nhost: x\r\n${auth}\r\n`,
      );
      expect(model, auth || "no token").toMatch(/^HTTP\/1.1 401 /);
    }
  });

  it("still takes the control service on the proxy socket from a forwarder started before the control socket existed", async () => {
    const answer = await talk(
      gateway.socketPath,
      `TANDEM/1 control ${token}\n`,
      "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n",
    );
    expect(answer).toMatch(/^HTTP\/1.1 404 /);
  });

  it("closes even while a sandbox holds a keep-alive connection open", async () => {
    const second = await startSandboxGateway({
      ...rt,
      config: { ...rt.config, GATEWAY_DIR: path.join(rt.config.DATA_DIR, "gateway-2") },
    });
    const socket = net.connect(second.socketPath);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `TANDEM/1 control ${token}\nGET /metrics HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\n\r\n`,
    );
    await new Promise((resolve) => socket.once("data", resolve));
    const closed = await Promise.race([
      second.close().then(() => "closed"),
      new Promise((r) => setTimeout(() => r("hung"), 5_000)),
    ]);
    expect(closed).toBe("closed");
    socket.destroy();
  });

  it("will not start with its CA's key inside the directory sandboxes mount", async () => {
    const dir = path.join(rt.config.DATA_DIR, "gateway-3");
    await expect(
      startSandboxGateway({
        ...rt,
        config: { ...rt.config, GATEWAY_DIR: dir, GATEWAY_CA_DIR: path.join(dir, "ca") },
      }),
    ).rejects.toThrow(/GATEWAY_CA_DIR .* is inside GATEWAY_DIR/);
  });
});
