import { describe, expect, it } from "vitest";
import { ConfigError, createSandboxProvider, loadConfig, type Logger } from "@tandem/core";
import { runEntry } from "./helpers/spawn.ts";

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe("configuration", () => {
  it("runs with embedded defaults when nothing is set", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      PORT: 3000,
      PUBLIC_URL: "http://localhost:3000",
      SANDBOX_PROVIDER: "docker",
      DATA_DIR: "./.data",
    });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.MODEL_UPSTREAM_API_KEY).toBeUndefined();
  });

  it("parses SANDBOX_HOST_ALIASES into name → target, and names a malformed pair", () => {
    expect(
      loadConfig({ SANDBOX_HOST_ALIASES: "Registry.test=127.0.0.1:4873, v6.test=[::1]:80" })
        .SANDBOX_HOST_ALIASES,
    ).toEqual({
      "registry.test": { host: "127.0.0.1", port: 4873 },
      "v6.test": { host: "::1", port: 80 },
    });
    expect(loadConfig({}).SANDBOX_HOST_ALIASES).toEqual({});
    expect(problemsOf({ SANDBOX_HOST_ALIASES: "registry.test=127.0.0.1" })).toEqual([
      "SANDBOX_HOST_ALIASES is invalid: expected name=host:port pairs, comma-separated (got registry.test=127.0.0.1)",
    ]);
  });

  it("PUBLIC_URL follows PORT and HOST when unset, and stays as given when set", () => {
    expect(loadConfig({ PORT: "3940" }).PUBLIC_URL).toBe("http://localhost:3940");
    expect(loadConfig({ PORT: "3940", HOST: "127.0.0.1" }).PUBLIC_URL).toBe(
      "http://localhost:3940",
    );
    expect(loadConfig({ PORT: "3940", HOST: "10.1.2.3" }).PUBLIC_URL).toBe("http://10.1.2.3:3940");
    expect(loadConfig({ PORT: "3940", HOST: "fd00::5" }).PUBLIC_URL).toBe("http://[fd00::5]:3940");
    expect(loadConfig({ PORT: "3940", PUBLIC_URL: "https://tandem.example.test" }).PUBLIC_URL).toBe(
      "https://tandem.example.test",
    );
  });

  it("treats an empty variable as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", PORT: "" }).PORT).toBe(3000);
  });

  it("reports every malformed variable at once, one line each, naming it and what is expected", () => {
    const problems = problemsOf({
      PORT: "eighty",
      PUBLIC_URL: "not a url",
      SANDBOX_PROVIDER: "vm",
      ADMIN_TOKEN: "short",
    });
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT is invalid: expected a port number/),
        expect.stringMatching(/^PUBLIC_URL is invalid: expected a URL/),
        expect.stringMatching(/^SANDBOX_PROVIDER is invalid: expected docker or local/),
        expect.stringMatching(/^ADMIN_TOKEN is invalid: expected at least 16 characters/),
      ]),
    );
  });

  it("names a missing variable that another one needs, and production's required ones", () => {
    expect(problemsOf({ SLACK_BOT_TOKEN: "xoxb-test" })).toEqual([
      "SLACK_SIGNING_SECRET is required: SLACK_BOT_TOKEN is set, and it needs SLACK_SIGNING_SECRET too",
    ]);
    expect(problemsOf({ LINEAR_CLIENT_ID: "client", LINEAR_CLIENT_SECRET: "secret" })).toEqual([
      "ENCRYPTION_KEY is required: LINEAR_CLIENT_ID is set, and each workspace's token is stored encrypted",
    ]);
    expect(
      problemsOf({ NODE_ENV: "production", PUBLIC_URL: "https://tandem.example.test" }),
    ).toEqual([
      "DATABASE_URL is required: NODE_ENV=production has no embedded default",
      "REDIS_URL is required: NODE_ENV=production has no embedded default",
    ]);
  });

  it("puts sandboxes behind the gateway by default; the host's network warns, and production refuses it", () => {
    expect(loadConfig({}).SANDBOX_NETWORK).toBe("gateway");
    const production = {
      NODE_ENV: "production",
      PUBLIC_URL: "https://tandem.example.test",
      DATABASE_URL: "postgres://db.test/t",
      REDIS_URL: "redis://redis.test:6379",
    };
    expect(problemsOf(production)).toEqual([]);
    expect(problemsOf({ ...production, SANDBOX_NETWORK: "host" })).toEqual([
      "SANDBOX_NETWORK=host is refused with NODE_ENV=production: it puts every sandbox on the host's network (use gateway)",
    ]);
    const warnings: string[] = [];
    const logger = { warn: (msg: string) => warnings.push(msg) } as unknown as Logger;
    createSandboxProvider(loadConfig({ SANDBOX_NETWORK: "host" }), logger);
    expect(warnings).toEqual([
      expect.stringMatching(
        /^sandbox\.host_network: SANDBOX_NETWORK=host puts every sandbox on this host's network/,
      ),
    ]);
    createSandboxProvider(loadConfig({}), logger);
    expect(warnings).toHaveLength(1);
  });

  it("refuses gateway sandboxes on another machine's engine unless the gateway's directory is named there", () => {
    expect(problemsOf({ DOCKER_HOST: "tcp://engine.example.test:2376" })).toEqual([
      expect.stringMatching(
        /^SANDBOX_GATEWAY_SOURCE is required: DOCKER_HOST \(tcp:\/\/engine.example.test:2376\) is another machine's engine/,
      ),
    ]);
    expect(problemsOf({ DOCKER_HOST: "ssh://agent@engine.example.test" })).toHaveLength(1);
    expect(
      problemsOf({
        DOCKER_HOST: "ssh://agent@engine.example.test",
        SANDBOX_GATEWAY_SOURCE: "/srv/tandem/gateway",
      }),
    ).toEqual([]);
    expect(problemsOf({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" })).toEqual([]);
    expect(
      problemsOf({ DOCKER_HOST: "tcp://engine.example.test:2376", SANDBOX_NETWORK: "host" }),
    ).toEqual([]);
  });

  it("stops an entry point with one clear line per bad variable and exit code 1", async () => {
    const { code, stderr } = await runEntry("web/src/main.ts", {
      PATH: process.env.PATH!,
      PORT: "99999",
      REDIS_URL: "redis//nope",
    });
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^tandem: PORT is invalid: /),
      expect.stringMatching(/^tandem: REDIS_URL is invalid: expected a URL/),
    ]);
  });
});
