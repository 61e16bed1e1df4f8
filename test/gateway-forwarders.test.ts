import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLogger,
  DockerSandboxProvider,
  execCollect,
  GATEWAY_WAIT_STEP,
  gatewayDir,
  sandboxNetwork,
  shellQuote,
} from "@tandem/core";
import type { SandboxGateway } from "@tandem/web";
import type { FastifyInstance } from "fastify";
import { startGatewayWithSession } from "./helpers/gateway.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "./helpers/docker.ts";
import { randomSuffix, startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

/**
 * The forwarders a gateway sandbox's PID 1 starts: socat for the control plane where the image
 * has it (tandem/sandbox does), the Node forwarder for the egress proxy, and for both on an
 * image without socat. Against a real gateway, from inside real `--network none` containers.
 */
describe.skipIf(!dockerAvailable())("the gateway's forwarders in a sandbox", () => {
  const noSocat = `tandem-test/no-socat:${randomSuffix()}`;
  const provider = new DockerSandboxProvider({
    logger: createLogger({ level: "silent", service: "test" }),
  });
  const ids: string[] = [];
  let rt: TestRuntime;
  let app: FastifyInstance;
  let gateway: SandboxGateway;
  let token: string;

  beforeAll(async () => {
    const built = spawnSync(
      "docker",
      ["build", "--network", "host", "--label", "tandem.test=forwarders", "-t", noSocat, "-"],
      {
        input: `FROM ${SANDBOX_IMAGE}\nUSER root\nRUN rm /usr/bin/socat\nUSER agent\n`,
      },
    );
    if (built.status !== 0) throw new Error(`docker build ${noSocat}: ${built.stderr.toString()}`);
    rt = await startTestRuntime("postgres", {
      SANDBOX_PROVIDER: "docker",
      SANDBOX_NETWORK: "gateway",
    });
    ({ app, gateway, token } = await startGatewayWithSession(rt));
  }, 120_000);
  afterAll(async () => {
    for (const id of ids) await provider.remove(id);
    spawnSync("docker", ["rmi", "-f", noSocat]);
    await gateway?.close();
    await app?.close();
    await rt?.close();
  });

  /** Starts a gateway sandbox of `image`, waits for its forwarders, and returns what curl gets on each port. */
  async function probe(image: string) {
    const network = sandboxNetwork(rt.config, undefined);
    expect(network.gatewaySource).toBe(gatewayDir(rt.config));
    const id = await provider.create({
      name: `tandem-test-forwarders-${randomSuffix()}`,
      image,
      labels: { "tandem.session": "forwarders" },
      env: network.env,
      network: network.mode,
      gatewaySource: network.gatewaySource,
    });
    ids.push(id);
    await provider.start(id);
    const curl = (args: string) => `curl -s -o /dev/null -w '%{http_code}\\n' ${args}`;
    const r = await execCollect(provider, id, [
      "sh",
      "-c",
      [
        GATEWAY_WAIT_STEP.map(shellQuote).join(" "),
        // The control plane, no token and then the sandbox's: the routes check it on each request.
        curl("http://127.0.0.1:3129/sandbox/git/x/info/refs?service=git-upload-pack"),
        curl(`-H ${shellQuote(`authorization: Bearer ${token}`)} http://127.0.0.1:3129/metrics`),
        // The egress proxy: no token file in this sandbox, so the gateway refuses the connection.
        curl("-x http://127.0.0.1:3128 http://registry.example.test/"),
        "pgrep -x socat >/dev/null && echo socat || echo no-socat",
      ].join(" && "),
    ]);
    expect(r.stderr).toBe("");
    return r.stdout.trim().split("\n");
  }

  it("forwards the control port with socat and the proxy with the Node forwarder on tandem/sandbox", async () => {
    expect(await probe(SANDBOX_IMAGE)).toEqual(["401", "404", "407", "socat"]);
  });

  it("forwards both with the Node forwarder on an image without socat", async () => {
    expect(await probe(noSocat)).toEqual(["401", "404", "407", "no-socat"]);
  });
});
