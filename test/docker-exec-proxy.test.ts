import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLogger,
  DockerSandboxProvider,
  execCollect,
  startDockerExecProxy,
  type DockerExecProxy,
} from "@tandem/core";
import { dockerAvailable, SANDBOX_IMAGE } from "./helpers/docker.ts";
import {
  createTestDatabase,
  dropRedisPrefix,
  randomSuffix,
  TEST_REDIS_URL,
} from "./helpers/runtime.ts";
import { ROOT } from "./helpers/spawn.ts";

const logger = createLogger({ level: "silent", service: "test" });

/** One request to the proxy's socket, as any Docker client would send it. */
function call(socketPath: string, method: string, urlPath: string, body?: unknown) {
  return new Promise<{
    status: number;
    json: { message?: string; Id?: string } & Record<string, unknown>;
  }>((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        socketPath,
        method,
        path: urlPath,
        headers: data ? { "content-type": "application/json" } : {},
      },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          let json = {};
          try {
            json = JSON.parse(text);
          } catch {
            json = { text };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

describe.skipIf(!dockerAvailable())("Docker exec proxy", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "tandem-docker-proxy-"));
  const socketPath = path.join(dir, "docker.sock");
  const direct = new DockerSandboxProvider({ logger });
  let proxy: DockerExecProxy;
  let viaProxy: DockerSandboxProvider;
  let sandbox: string;
  let unlabelled: string;

  beforeAll(async () => {
    proxy = await startDockerExecProxy({
      listenPath: socketPath,
      upstreamSocket: "/var/run/docker.sock",
      logger,
    });
    viaProxy = new DockerSandboxProvider({ dockerHost: `unix://${socketPath}`, logger });
    sandbox = await direct.create({
      name: `tandem-test-proxy-${randomSuffix()}`,
      image: SANDBOX_IMAGE,
      labels: { "tandem.session": "proxy" },
      env: { GREETING: "hello" },
      network: "none",
    });
    await direct.start(sandbox);
    // A container that is not Tandem's, made straight on the engine.
    const run = spawnSync("docker", [
      "run",
      "-d",
      "--rm",
      "--name",
      `tandem-test-unlabelled-${randomSuffix()}`,
      "--network",
      "none",
      "--entrypoint",
      "sleep",
      SANDBOX_IMAGE,
      "300",
    ]);
    unlabelled = run.stdout.toString().trim();
    expect(unlabelled).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);
  afterAll(async () => {
    await direct.remove(sandbox);
    spawnSync("docker", ["rm", "-f", unlabelled]);
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets the provider run commands in a sandbox: stdout, stderr, exit code, env, cwd and stdin", async () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o666);
    const r = await execCollect(
      viaProxy,
      sandbox,
      ["sh", "-c", 'pwd; echo "$GREETING $EXTRA"; id -u; echo oops >&2; exit 3'],
      { env: { EXTRA: "world" }, cwd: "/tmp" },
    );
    expect(r).toEqual({ exitCode: 3, stdout: "/tmp\nhello world\n1000\n", stderr: "oops\n" });
    expect(await execCollect(viaProxy, sandbox, ["cat"], { input: "piped in" })).toMatchObject({
      exitCode: 0,
      stdout: "piped in",
    });
  });

  it("carries a hijacked TTY exec with stdin and a resize", async () => {
    const proc = await viaProxy.exec(
      sandbox,
      ["sh", "-c", "stty size; read line; echo got:$line; stty size"],
      { tty: true, stdin: true, size: { cols: 80, rows: 24 } },
    );
    let out = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !out.includes("24 80"); i++)
      await new Promise((r) => setTimeout(r, 50));
    await proc.resize({ cols: 132, rows: 40 });
    proc.stdin!.write("typed\n");
    expect((await proc.wait()).exitCode).toBe(0);
    expect(out).toMatch(/24 80[\s\S]*got:typed[\s\S]*40 132/);
  });

  it("inspects a sandbox, and says missing for one that is gone", async () => {
    expect(await viaProxy.inspect(sandbox)).toMatchObject({
      id: sandbox,
      state: "running",
      labels: expect.objectContaining({ "tandem.managed": "true", "tandem.session": "proxy" }),
    });
    expect((await viaProxy.inspect(`tandem-test-gone-${randomSuffix()}`)).state).toBe("missing");
    expect((await call(socketPath, "GET", "/_ping")).status).toBe(200);
    expect((await call(socketPath, "HEAD", "/v1.41/_ping")).status).toBe(200);
    expect((await call(socketPath, "GET", "/v1.41/version")).json).toHaveProperty("ApiVersion");
  });

  it("refuses inspect and exec on a container without tandem.managed=true", async () => {
    await expect(viaProxy.exec(unlabelled, ["true"])).rejects.toMatchObject({ statusCode: 403 });
    await expect(viaProxy.inspect(unlabelled)).rejects.toMatchObject({ statusCode: 403 });
    const raw = await call(socketPath, "POST", `/v1.41/containers/${unlabelled}/exec`, {
      Cmd: ["true"],
      AttachStdout: true,
    });
    expect(raw).toEqual({
      status: 403,
      json: {
        message: expect.stringContaining("not a Tandem sandbox (no label tandem.managed=true)"),
      },
    });
  });

  it("refuses an exec as root or privileged", async () => {
    for (const body of [
      { User: "root" },
      { User: "0" },
      { User: "0:0" },
      { User: "root:agent" },
      { User: "1000:0" },
      { Privileged: true },
    ]) {
      const r = await call(socketPath, "POST", `/v1.41/containers/${sandbox}/exec`, {
        Cmd: ["id"],
        AttachStdout: true,
        ...body,
      });
      expect({ body, ...r }).toEqual({
        body,
        status: 403,
        json: {
          message: expect.stringMatching(/docker exec proxy: (an exec as user|a privileged exec)/),
        },
      });
    }
    // An exec that names no user runs as the container's, which Tandem sets to 1000:1000.
    expect(
      (
        await call(socketPath, "POST", `/containers/${sandbox}/exec`, {
          Cmd: ["id"],
          AttachStdout: true,
        })
      ).status,
    ).toBe(201);
  });

  it("refuses every call that makes, changes, starts or lists anything", async () => {
    const id = sandbox;
    const calls: Array<[string, string, unknown?]> = [
      [
        "POST",
        "/containers/create",
        {
          Image: SANDBOX_IMAGE,
          HostConfig: { Binds: ["/var/run/docker.sock:/var/run/docker.sock"] },
        },
      ],
      ["POST", "/v1.41/containers/create?name=x", { Image: SANDBOX_IMAGE }],
      ["DELETE", `/containers/${id}?force=true`],
      ["POST", `/commit?container=${id}&repo=tandem-test/stolen`],
      ["GET", "/containers/json"],
      ["GET", "/v1.41/containers/json?all=1"],
      ["POST", `/containers/${id}/start`],
      ["POST", `/v1.41/containers/${id}/stop`],
      ["POST", `/containers/${id}/kill`],
      ["POST", `/containers/${id}/attach?stream=1&stdin=1`],
      ["PUT", `/containers/${id}/archive?path=/tmp`],
      ["GET", `/containers/${id}/archive?path=/home/agent`],
      ["GET", "/images/json"],
      ["POST", "/images/create?fromImage=alpine"],
      ["POST", "/build"],
      ["GET", "/volumes"],
      [
        "POST",
        "/volumes/create",
        { Name: "x", DriverOpts: { type: "none", o: "bind", device: "/" } },
      ],
      ["GET", "/networks"],
      ["POST", "/networks/create", { Name: "x" }],
      ["GET", "/info"],
      ["GET", "/events"],
      ["GET", `/containers/${id}/../../images/json`],
      ["GET", `/containers/%2e%2e/images/json`],
    ];
    for (const [method, urlPath, body] of calls) {
      const r = await call(socketPath, method, urlPath, body);
      expect({ call: `${method} ${urlPath}`, ...r }).toEqual({
        call: `${method} ${urlPath}`,
        status: 403,
        json: { message: expect.stringMatching(/is refused; it forwards only GET\/HEAD \/_ping/) },
      });
    }
    await expect(
      viaProxy.create({
        name: `tandem-test-proxy-create-${randomSuffix()}`,
        image: SANDBOX_IMAGE,
        labels: {},
        env: {},
        network: "none",
      }),
    ).rejects.toMatchObject({ statusCode: 403 });
    await expect(viaProxy.remove(sandbox)).rejects.toMatchObject({ statusCode: 403 });
    await expect(
      viaProxy.commit(sandbox, `tandem-test/stolen-${randomSuffix()}:v1`),
    ).rejects.toMatchObject({ statusCode: 403 });
    expect((await direct.inspect(sandbox)).state).toBe("running");
  });

  it("starts, resizes and inspects only the execs it made itself, hijacked or not", async () => {
    // An exec made straight on the engine, as another process holding the socket would.
    const created = (
      await call("/var/run/docker.sock", "POST", `/containers/${sandbox}/exec`, {
        Cmd: ["id"],
        AttachStdout: true,
      })
    ).json as { Id: string };
    expect(created.Id).toMatch(/^[0-9a-f]{64}$/);
    for (const [method, action] of [
      ["POST", "start"],
      ["POST", "resize?h=10&w=10"],
      ["GET", "json"],
    ] as const) {
      const r = await call(
        socketPath,
        method,
        `/v1.41/exec/${created.Id}/${action}`,
        method === "POST" ? { Detach: false } : undefined,
      );
      expect(r).toEqual({
        status: 403,
        json: { message: expect.stringContaining("was not made through this proxy") },
      });
    }
    const hijacked = await new Promise<string>((resolve, reject) => {
      const req = http.request({
        socketPath,
        method: "POST",
        path: `/exec/${created.Id}/start`,
        headers: { Connection: "Upgrade", Upgrade: "tcp", "content-type": "application/json" },
      });
      req.on("response", (res) => resolve(String(res.statusCode)));
      req.on("upgrade", () => resolve("upgraded"));
      req.on("error", reject);
      req.end(JSON.stringify({ Detach: false, Tty: false }));
    });
    expect(hijacked).toBe("403");
  });
});

describe.skipIf(!dockerAvailable())("the worker with DOCKER_EXEC_PROXY_SOCKET", () => {
  it("serves the exec proxy on that socket while it runs, and removes it on stop", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tandem-worker-proxy-"));
    const socketPath = path.join(dir, "docker.sock");
    const database = await createTestDatabase();
    const prefix = `test-${randomSuffix()}`;
    const worker = spawn(
      process.execPath,
      [path.join(ROOT, "node_modules/tsx/dist/cli.mjs"), "worker/src/main.ts"],
      {
        cwd: ROOT,
        stdio: "ignore",
        env: {
          PATH: process.env.PATH!,
          DATABASE_URL: database.url,
          REDIS_URL: TEST_REDIS_URL,
          REDIS_PREFIX: prefix,
          LOG_LEVEL: "silent",
          DATA_DIR: dir,
          DOCKER_EXEC_PROXY_SOCKET: socketPath,
        },
      },
    );
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    try {
      let ping = 0;
      for (let i = 0; i < 200 && ping !== 200; i++) {
        ping = await call(socketPath, "GET", "/_ping").then(
          (r) => r.status,
          () => 0,
        );
        if (ping !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ping).toBe(200);
      expect((await call(socketPath, "GET", "/containers/json")).status).toBe(403);
      worker.kill("SIGTERM");
      await exited;
      await expect(call(socketPath, "GET", "/_ping")).rejects.toThrow();
    } finally {
      worker.kill("SIGKILL");
      await exited;
      await database.drop();
      await dropRedisPrefix(TEST_REDIS_URL, prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
