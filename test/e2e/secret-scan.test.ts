import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable, SANDBOX_IMAGE } from "../helpers/docker.ts";
import { registerRepository, sandboxOf, startGitServer, type TestGit } from "../helpers/e2e.ts";
import { startStack, TEST_ENCRYPTION_KEY, until, type Stack } from "../helpers/stack.ts";

const docker = (...args: string[]) => {
  const r = spawnSync("docker", args, { maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() };
};

/** Fake values that look like nothing real, each unique enough to grep for. */
const SECRETS = {
  MODEL_UPSTREAM_API_KEY: "fake-upstream-key-scan-7f3a",
  ADMIN_TOKEN: "fake-admin-token-scan-91c2d4e5",
  SLACK_BOT_TOKEN: "fake-slack-bot-token-scan-4b8e",
  SLACK_SIGNING_SECRET: "fake-slack-signing-scan-0d6f",
  GITHUB_APP_ID: "12345",
  GITHUB_PRIVATE_KEY: "fake-github-private-key-scan-2a9c",
};
const GIT_PASSWORD = "fake-git-password-scan-5e1b";

describe.skipIf(!dockerAvailable())("nothing secret reaches a live sandbox", () => {
  let stack: Stack;
  let model: ModelServer;
  let git: TestGit;
  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: GIT_PASSWORD },
      { "acme/app": { "README.md": "# app\n" } },
    );
    model = await new ModelServer([{ shell: "sleep 120" }]).listen();
    stack = await startStack("postgres", {
      SANDBOX_PROVIDER: "docker",
      SANDBOX_IMAGE,
      MODEL_UPSTREAM_URL: model.url,
      AGENT_MODEL: "test-model",
      // Provider APIs point at a closed loopback port: nothing may leave this machine.
      SLACK_API_URL: "http://127.0.0.1:9/api/",
      GITHUB_API_URL: "http://127.0.0.1:9",
      ...SECRETS,
    });
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
    await model?.close();
    await git?.close();
  });

  it("keeps keys, tokens, the database URL and git passwords out of env, processes, files and image layers", async () => {
    await registerRepository(stack, git, "acme/app");
    const { body } = await stack.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "work",
    });
    await until("the agent to be working", async () => model.responseRequests.length > 0, 60_000);
    const sandbox = await sandboxOf(stack, body.id);
    const id = sandbox!.externalId!;
    const needles = [
      ...Object.values(SECRETS).filter((v) => v.length > 8),
      GIT_PASSWORD,
      TEST_ENCRYPTION_KEY,
      stack.rt.config.DATABASE_URL!,
    ];

    const inspect = JSON.parse(docker("inspect", id).out)[0];
    // As the agent user: every process in the sandbox is its own, and root here lacks CAP_SYS_PTRACE.
    const environ = docker("exec", id, "sh", "-c", "cat /proc/[0-9]*/environ | tr '\\0' '\\n'").out;
    const processes = docker("exec", "-u", "root", id, "ps", "auxww").out;
    const history = docker(
      "history",
      "--no-trunc",
      "--format",
      "{{.CreatedBy}}",
      SANDBOX_IMAGE,
    ).out;
    const imageEnv = JSON.stringify(
      JSON.parse(docker("image", "inspect", SANDBOX_IMAGE).out)[0].Config.Env,
    );
    // Files are read as root and as the agent: root in the sandbox has no capability to read the
    // agent's private files, so each sees what the other may not.
    const grep = (needle: string) => ({
      out: ["root", "agent"]
        .map(
          (user) =>
            docker(
              "exec",
              "-u",
              user,
              id,
              "grep",
              "-rIlsF",
              "--exclude-dir=proc",
              "--exclude-dir=sys",
              "--exclude-dir=dev",
              "-e",
              needle,
              "/",
            ).out,
        )
        .join(""),
    });

    expect(processes).toContain("codex"); // the scan looks at a sandbox with a live agent
    expect(environ).toContain("TANDEM_CONTROL_URL");
    // The scan finds what is there: the session's own token is in its token file.
    const token = docker("exec", id, "cat", "/home/agent/.tandem/token").out.trim();
    expect(token).toMatch(/^tdm_/);
    expect(grep(token).out).toContain("/home/agent/.tandem/token");
    for (const needle of needles) {
      expect(JSON.stringify(inspect.Config.Env), "container env").not.toContain(needle);
      expect(environ, "process environments").not.toContain(needle);
      expect(processes, "process list").not.toContain(needle);
      expect(history + imageEnv, "image layers").not.toContain(needle);
      expect(grep(needle).out, `files containing ${needle.slice(0, 12)}…`).toBe("");
    }
  }, 180_000);
});
