import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claudeCodeAdapter, createClaudeParser } from "../core/src/agents/claude-code.ts";
import { CODEX_BUNDLED_MODELS, codexAdapter, parseCodexLine } from "../core/src/agents/codex.ts";
import { commandAdapter, parseCommandLine } from "../core/src/agents/command.ts";
import { getAgentAdapter } from "../core/src/agents/index.ts";
import type { AgentAdapter, AgentOutput, TurnSpec } from "../core/src/agents/types.ts";
import { ModelServer } from "./fixtures/model-server.ts";
import { ROOT } from "./helpers/spawn.ts";

/** `codex` resolves to the pinned CLI; its launcher needs node. */
const PATH = [
  path.join(ROOT, "node_modules/.bin"),
  path.dirname(process.execPath),
  "/usr/local/bin",
  "/usr/bin",
  "/bin",
].join(":");

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), `tandem-${prefix}-`));
const events = (outputs: AgentOutput[]) =>
  outputs.flatMap((o) => (o.kind === "event" ? [o.body] : []));

/** What the worker does, minus the file tailing: write files, spawn argv in workdir, parse stdout lines. */
async function runTurn(adapter: AgentAdapter, spec: TurnSpec, home: string) {
  const command = adapter.buildTurn(spec);
  for (const file of command.files) {
    mkdirSync(path.dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.content, { mode: file.mode });
  }
  const [program, ...args] = command.argv;
  const child = spawn(program!, args, {
    cwd: spec.workdir,
    env: { PATH, HOME: home, ...command.env },
  });
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  child.stdin.end(command.stdin ?? "");
  const parser = adapter.createParser();
  const outputs: AgentOutput[] = [];
  for await (const line of createInterface({ input: child.stdout }))
    outputs.push(...parser.push(line));
  const code = await closed;
  clearTimeout(timer);
  return { outputs, code, stderr };
}

function gitRepo(): string {
  const dir = tmp("repo");
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
      cwd: dir,
    });
  git("init", "-q");
  writeFileSync(path.join(dir, "README.md"), "# demo\nold line\n");
  git("add", ".");
  git("commit", "-qm", "init");
  return dir;
}

// Prints 0 TANDEM_ variables: the proxy token is kept out of the commands the agent runs.
const COMMAND = "echo hello-from-agent && ls && (env | grep -c '^TANDEM_' || true)";

const PATCH = `*** Begin Patch
*** Update File: README.md
@@
 # demo
-old line
+new line
*** Add File: notes.txt
+written by the agent
*** End Patch
`;

describe("codex adapter against the real codex CLI", () => {
  const token = "tnd_session_token_123";
  const dirs: string[] = [];
  let server: ModelServer;
  let spec: TurnSpec;
  let home: string;
  let threadId: string | undefined;

  beforeAll(async () => {
    server = await new ModelServer([
      { shell: COMMAND },
      { applyPatch: PATCH },
      { message: "done" },
      { message: "picked up where we left off" },
    ]).listen();
    home = tmp("home");
    const workdir = gitRepo();
    dirs.push(home, workdir);
    spec = {
      sessionId: "s-1",
      prompt: "say hello, then edit the readme",
      model: "test-model",
      workdir,
      homeDir: path.join(home, "codex"),
      modelBaseUrl: server.url,
      modelToken: token,
    };
  });
  afterAll(async () => {
    await server.close();
    dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });

  it("runs a turn: command, patch and message, normalised", async () => {
    const { outputs, code, stderr } = await runTurn(codexAdapter, spec, home);
    expect(code, stderr).toBe(0);

    threadId = outputs.find((o) => o.kind === "thread")?.id;
    expect(threadId).toMatch(/^[0-9a-f-]{36}$/);
    expect(events(outputs)).toEqual([
      { type: "command_started", command: COMMAND, id: expect.any(String) },
      {
        type: "command",
        command: COMMAND,
        output: "hello-from-agent\nREADME.md\n0\n",
        exitCode: 0,
        id: expect.any(String),
      },
      { type: "file_change", path: path.join(spec.workdir, "README.md"), kind: "update" },
      { type: "file_change", path: path.join(spec.workdir, "notes.txt"), kind: "add" },
      { type: "message", role: "assistant", text: "done" },
    ]);
    expect(outputs.slice(-2)).toEqual([
      { kind: "usage", inputTokens: 3 * 120, outputTokens: 3 * 30 },
      { kind: "turn_completed" },
    ]);

    expect(readFileSync(path.join(spec.workdir, "README.md"), "utf8")).toBe("# demo\nnew line\n");
    expect(readFileSync(path.join(spec.workdir, "notes.txt"), "utf8")).toBe(
      "written by the agent\n",
    );

    const requests = server.responseRequests;
    expect(requests).toHaveLength(3);
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true);
    expect(requests[0]!.body.model).toBe("test-model");
    const tools = requests[0]!.body.tools.map(
      (t: { name?: string; type: string }) => `${t.type}:${t.name}`,
    );
    // The plan tool too: its todo lists are the plan events the workbench pins.
    expect(tools).toEqual(
      expect.arrayContaining([
        "function:exec_command",
        "custom:apply_patch",
        "function:update_plan",
      ]),
    );

    const commandResult = requests[1]!.body.input.find(
      (i: { type: string }) => i.type === "function_call_output",
    );
    expect(commandResult.output).toContain("hello-from-agent");
    const patchResult = requests[2]!.body.input.find(
      (i: { type: string }) => i.type === "custom_tool_call_output",
    );
    expect(patchResult.output).toContain("Success");
  });

  it("resumes the thread with the earlier conversation", async () => {
    expect(threadId).toBeDefined();
    const { outputs, code, stderr } = await runTurn(
      codexAdapter,
      { ...spec, resumeId: threadId, prompt: "and now?" },
      home,
    );
    expect(code, stderr).toBe(0);

    expect(outputs).toContainEqual({ kind: "thread", id: threadId });
    expect(events(outputs)).toEqual([
      { type: "message", role: "assistant", text: "picked up where we left off" },
    ]);
    // After a resume Codex reports the thread's running total, not this turn's share.
    expect(outputs.slice(-2)).toEqual([
      { kind: "usage", inputTokens: 4 * 120, outputTokens: 4 * 30 },
      { kind: "turn_completed" },
    ]);

    const input = JSON.stringify(server.responseRequests[3]!.body.input);
    expect(input).toContain("say hello, then edit the readme");
    expect(input).toContain("hello-from-agent");
    expect(input).toContain('"text":"done"');
    expect(input).toContain("and now?");
    expect(server.requests.some((r) => r.exhausted)).toBe(false);
  });

  it("reports a rejected model request as a failed turn", async () => {
    const failing = await new ModelServer([
      { error: { status: 400, body: { error: { message: "model says no" } } } },
    ]).listen();
    const failingHome = tmp("home");
    dirs.push(failingHome);
    try {
      const { outputs } = await runTurn(
        codexAdapter,
        { ...spec, homeDir: path.join(failingHome, "codex"), modelBaseUrl: failing.url },
        failingHome,
      );
      expect(events(outputs)).toEqual([
        { type: "error", message: expect.stringContaining("model says no") },
      ]);
      expect(outputs.at(-1)).toEqual({
        kind: "turn_failed",
        message: expect.stringContaining("model says no"),
      });
    } finally {
      await failing.close();
    }
  });

  it("knows which models the pinned codex ships metadata for", () => {
    const emptyHome = tmp("home");
    dirs.push(emptyHome);
    const out = execFileSync("codex", ["debug", "models"], {
      env: { PATH, HOME: emptyHome, CODEX_HOME: emptyHome },
      stdio: ["ignore", "pipe", "ignore"],
    });
    const slugs = (JSON.parse(out.toString()) as { models: Array<{ slug: string }> }).models.map(
      (m) => m.slug,
    );
    expect([...CODEX_BUNDLED_MODELS].sort()).toEqual(slugs.sort());
  });
});

describe("codex turns", () => {
  const base: TurnSpec = {
    sessionId: "s",
    prompt: "--help; rm -rf /",
    model: "gpt-5.5",
    workdir: "/w",
    homeDir: "/h",
    modelBaseUrl: "http://127.0.0.1:9/proxy/model/v1",
    modelToken: "tok",
  };

  it("passes the prompt on stdin and resumes by thread id", () => {
    const first = codexAdapter.buildTurn(base);
    expect(first.argv).toEqual([
      "codex",
      "exec",
      "--json",
      "--skip-git-repo-check",
      "--dangerously-bypass-approvals-and-sandbox",
      "--strict-config",
      "-",
    ]);
    expect(first.stdin).toBe(base.prompt);
    expect(first.env).toEqual({ CODEX_HOME: "/h", TANDEM_MODEL_TOKEN: "tok" });
    expect(codexAdapter.buildTurn({ ...base, resumeId: "t-1" }).argv.slice(0, 4)).toEqual([
      "codex",
      "exec",
      "resume",
      "t-1",
    ]);
  });

  it("writes a model catalog only for models codex does not know", () => {
    expect(codexAdapter.buildTurn(base).files.map((f) => f.path)).toEqual(["/h/config.toml"]);
    const custom = codexAdapter.buildTurn({ ...base, model: 'odd "model"' }).files;
    expect(custom.map((f) => f.path)).toEqual(["/h/config.toml", "/h/tandem-models.json"]);
    expect(custom[0]!.content).toContain('model = "odd \\"model\\""');
    expect(JSON.parse(custom[1]!.content).models[0]).toMatchObject({
      slug: 'odd "model"',
      apply_patch_tool_type: "freeform",
    });
  });

  it("sets the reasoning effort only when the profile asks for one", () => {
    expect(codexAdapter.buildTurn(base).files[0]!.content).not.toContain("model_reasoning_effort");
    expect(
      codexAdapter.buildTurn({ ...base, reasoningEffort: "high" }).files[0]!.content,
    ).toContain('model_reasoning_effort = "high"');
  });
});

describe("codex output parser", () => {
  const line = (value: unknown) => JSON.stringify(value);

  it("turns a started command into command_started and its completion into the command, with the same id", () => {
    const item = {
      id: "item_1",
      type: "command_execution",
      command: "/bin/bash -lc 'echo '\\''hi'\\'''",
      aggregated_output: "",
      exit_code: null,
      status: "in_progress",
    };
    expect(parseCodexLine(line({ type: "item.started", item }))).toEqual([
      { kind: "event", body: { type: "command_started", command: "echo 'hi'", id: "item_1" } },
    ]);
    expect(
      parseCodexLine(
        line({
          type: "item.completed",
          item: { ...item, aggregated_output: "hi\n", exit_code: 0, status: "completed" },
        }),
      ),
    ).toEqual([
      {
        kind: "event",
        body: { type: "command", command: "echo 'hi'", output: "hi\n", exitCode: 0, id: "item_1" },
      },
    ]);
  });

  it("maps plans, failures and errors, and ignores the rest", () => {
    const todo = {
      id: "item_2",
      type: "todo_list",
      items: [
        { text: "read", completed: true },
        { text: "write", completed: false },
      ],
    };
    const plan = {
      kind: "event",
      body: {
        type: "plan",
        steps: [
          { text: "read", done: true },
          { text: "write", done: false },
        ],
      },
    };
    expect(parseCodexLine(line({ type: "item.updated", item: todo }))).toEqual([plan]);
    expect(parseCodexLine(line({ type: "item.completed", item: todo }))).toEqual([]);
    expect(
      parseCodexLine(
        line({
          type: "item.completed",
          item: {
            id: "i",
            type: "file_change",
            status: "failed",
            changes: [{ path: "a", kind: "add" }],
          },
        }),
      ),
    ).toEqual([]);
    expect(parseCodexLine(line({ type: "turn.failed", error: { message: "boom" } }))).toEqual([
      { kind: "turn_failed", message: "boom" },
    ]);
    expect(parseCodexLine(line({ type: "error", message: "Reconnecting... 1/2" }))).toEqual([
      { kind: "event", body: { type: "error", message: "Reconnecting... 1/2" } },
    ]);
    for (const ignored of [
      "",
      "not json",
      "[1]",
      '{"type":"turn.started"}',
      line({ type: "item.completed", item: { type: "reasoning", text: "hm" } }),
      '{"type":"item.completed"',
    ]) {
      expect(parseCodexLine(ignored)).toEqual([]);
    }
  });
});

describe("claude-code adapter", () => {
  const spec: TurnSpec = {
    sessionId: "s",
    prompt: "fix it",
    model: "claude-sonnet",
    workdir: "/w",
    homeDir: "/h",
    modelBaseUrl: "http://127.0.0.1:9/proxy/model/v1",
    modelToken: "tok",
  };

  it("builds a print-mode turn against the proxy", () => {
    const turn = claudeCodeAdapter.buildTurn({ ...spec, resumeId: "c-1" });
    expect(turn.argv).toEqual([
      "claude",
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--model",
      "claude-sonnet",
      "--dangerously-skip-permissions",
      "--resume",
      "c-1",
    ]);
    expect(turn.env).toMatchObject({
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9/proxy/model",
      ANTHROPIC_AUTH_TOKEN: "tok",
      CLAUDE_CONFIG_DIR: "/h",
    });
    expect(turn.stdin).toBe("fix it");
  });

  it("parses stream-json", () => {
    const parser = createClaudeParser();
    const lines = [
      {
        type: "system",
        subtype: "init",
        cwd: "/w",
        session_id: "c-1",
        tools: ["Bash", "Edit"],
        model: "claude-sonnet",
      },
      {
        type: "assistant",
        message: {
          role: "assistant",
          content: [
            { type: "text", text: "Looking." },
            {
              type: "tool_use",
              id: "t1",
              name: "Bash",
              input: { command: "ls", description: "list" },
            },
          ],
        },
        session_id: "c-1",
      },
      {
        type: "user",
        message: {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "t1", content: "a.txt\n", is_error: false },
          ],
        },
        session_id: "c-1",
      },
      {
        type: "assistant",
        message: {
          content: [{ type: "tool_use", id: "t2", name: "Bash", input: { command: "false" } }],
        },
      },
      {
        type: "user",
        message: {
          content: [
            { type: "tool_result", tool_use_id: "t2", content: "Exit code 1", is_error: true },
          ],
        },
      },
      {
        type: "assistant",
        message: {
          content: [
            {
              type: "tool_use",
              id: "t3",
              name: "Write",
              input: { file_path: "/w/new.txt", content: "x" },
            },
          ],
        },
      },
      {
        type: "user",
        message: { content: [{ type: "tool_result", tool_use_id: "t3", content: "File created" }] },
        tool_use_result: { type: "create", filePath: "/w/new.txt" },
      },
      {
        type: "assistant",
        message: {
          content: [
            {
              type: "tool_use",
              id: "t4",
              name: "Edit",
              input: { file_path: "/w/a.txt", old_string: "a", new_string: "b" },
            },
          ],
        },
      },
      {
        type: "user",
        message: {
          content: [
            {
              type: "tool_result",
              tool_use_id: "t4",
              content: [{ type: "text", text: "updated" }],
            },
          ],
        },
      },
      {
        type: "assistant",
        message: {
          content: [
            {
              type: "tool_use",
              id: "t5",
              name: "TodoWrite",
              input: { todos: [{ content: "fix", status: "completed", activeForm: "Fixing" }] },
            },
          ],
        },
      },
      { type: "assistant", message: { content: [{ type: "text", text: "Fixed." }] } },
      {
        type: "result",
        subtype: "success",
        is_error: false,
        result: "Fixed.",
        session_id: "c-1",
        usage: {
          input_tokens: 10,
          cache_creation_input_tokens: 5,
          cache_read_input_tokens: 100,
          output_tokens: 7,
        },
      },
    ];
    expect(
      ["garbage", ...lines.map((l) => JSON.stringify(l))].flatMap((l) => parser.push(l)),
    ).toEqual([
      { kind: "thread", id: "c-1" },
      { kind: "event", body: { type: "message", role: "assistant", text: "Looking." } },
      { kind: "event", body: { type: "command_started", command: "ls", id: "t1" } },
      {
        kind: "event",
        body: { type: "command", command: "ls", output: "a.txt\n", exitCode: 0, id: "t1" },
      },
      { kind: "event", body: { type: "command_started", command: "false", id: "t2" } },
      {
        kind: "event",
        body: { type: "command", command: "false", output: "Exit code 1", exitCode: 1, id: "t2" },
      },
      { kind: "event", body: { type: "file_change", path: "/w/new.txt", kind: "add" } },
      { kind: "event", body: { type: "file_change", path: "/w/a.txt", kind: "update" } },
      { kind: "event", body: { type: "plan", steps: [{ text: "fix", done: true }] } },
      { kind: "event", body: { type: "message", role: "assistant", text: "Fixed." } },
      { kind: "usage", inputTokens: 115, outputTokens: 7 },
      { kind: "turn_completed" },
    ]);
  });

  it("reports an error result as a failed turn", () => {
    const failed = JSON.stringify({
      type: "result",
      subtype: "error_max_turns",
      is_error: true,
      usage: { input_tokens: 1, output_tokens: 2 },
    });
    expect(createClaudeParser().push(failed)).toEqual([
      { kind: "usage", inputTokens: 1, outputTokens: 2 },
      {
        kind: "event",
        body: { type: "error", message: "claude ended the turn with error_max_turns" },
      },
      { kind: "turn_failed", message: "claude ended the turn with error_max_turns" },
    ]);
  });
});

describe("command adapter", () => {
  it("hands the turn to the program through stdin and TANDEM_ variables", () => {
    const turn = commandAdapter(["node", "agent.js"]).buildTurn({
      sessionId: "s",
      prompt: "hi",
      resumeId: "r-1",
      model: "m",
      workdir: "/w",
      homeDir: "/h",
      modelBaseUrl: "http://127.0.0.1:9/v1",
      modelToken: "tok",
    });
    expect(turn.argv).toEqual(["node", "agent.js"]);
    expect(turn.stdin).toBe("hi");
    expect(turn.env).toMatchObject({
      TANDEM_PROMPT: "hi",
      TANDEM_RESUME_ID: "r-1",
      TANDEM_MODEL_BASE_URL: "http://127.0.0.1:9/v1",
      TANDEM_MODEL_TOKEN: "tok",
    });
  });

  it("accepts session events and control lines, and nothing else", () => {
    const lines = [
      '{"type":"thread","id":"x-1"}',
      '{"type":"message","role":"assistant","text":"hi"}',
      '{"type":"command","command":"ls","output":"a","exitCode":0}',
      '{"type":"message","role":"robot","text":"invalid role"}',
      '{"type":"file_change","path":"a","kind":"rename"}',
      "plain log output",
      '{"type":"usage","inputTokens":3,"outputTokens":4}',
      '{"type":"turn_completed"}',
    ];
    expect(lines.flatMap(parseCommandLine)).toEqual([
      { kind: "thread", id: "x-1" },
      { kind: "event", body: { type: "message", role: "assistant", text: "hi" } },
      { kind: "event", body: { type: "command", command: "ls", output: "a", exitCode: 0 } },
      { kind: "usage", inputTokens: 3, outputTokens: 4 },
      { kind: "turn_completed" },
    ]);
  });

  it("is chosen by name, and needs a program", () => {
    expect(getAgentAdapter("codex").name).toBe("codex");
    expect(getAgentAdapter("claude-code").name).toBe("claude-code");
    expect(getAgentAdapter("command", { command: ["./agent"] }).name).toBe("command");
    expect(() => getAgentAdapter("command")).toThrow(/needs a program/);
  });
});
