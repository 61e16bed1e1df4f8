import path from "node:path";
import { z } from "zod";
import { unwrapShell } from "../util/shell.ts";
import {
  event,
  parseJsonLine,
  type AgentAdapter,
  type AgentCommand,
  type AgentOutput,
  type TurnSpec,
} from "./types.ts";

/** Codex reads the proxy token from this variable (the provider's `env_key`). */
const CODEX_TOKEN_ENV = "TANDEM_MODEL_TOKEN";

/**
 * Models the pinned Codex (package.json `tandem.codexVersion`) ships tuned metadata for.
 * `model_catalog_json` replaces that catalog, so these keep Codex's own entry; the agents test
 * compares this list with `codex debug models`.
 */
export const CODEX_BUNDLED_MODELS: readonly string[] = [
  "gpt-6-astra",
  "gpt-6.1-sol",
  "gpt-6.1-terra",
  "gpt-6-sol",
  "gpt-6-luna",
  "gpt-5.6-sol",
  "gpt-5.6-terra",
  "gpt-5.6-luna",
  "gpt-daybreak-blue-latest",
  "gpt-daybreak-red-latest",
  "gpt-5.5",
  "codex-auto-review",
];

const DEFAULT_INSTRUCTIONS = `You are a coding agent working in a repository on behalf of a team that talks to you through chat.
You run non-interactively: nobody can answer questions during a turn, so make reasonable assumptions and say which.
Use the shell tool to inspect the repository and run commands, and apply_patch to create, edit or delete files.
Keep changes focused on the request, run the relevant tests when practical, and end with a short summary of what you changed and what is left.`;

export interface CodexAdapterOptions {
  /** System instructions for models Codex has no catalog entry for. */
  instructions?: string;
  /** Context window assumed for such models; Codex compacts the conversation as it fills. */
  contextWindowTokens?: number;
}

export function createCodexAdapter(opts: CodexAdapterOptions = {}): AgentAdapter {
  return {
    name: "codex",
    buildTurn: (spec) => buildCodexTurn(spec, opts),
    createParser: () => ({ push: parseCodexLine }),
  };
}

export const codexAdapter = createCodexAdapter();

function buildCodexTurn(spec: TurnSpec, opts: CodexAdapterOptions): AgentCommand {
  const catalogPath = CODEX_BUNDLED_MODELS.includes(spec.model)
    ? undefined
    : path.join(spec.homeDir, "tandem-models.json");
  const files: AgentCommand["files"] = [
    {
      path: path.join(spec.homeDir, "config.toml"),
      content: codexConfig(spec, catalogPath),
      mode: 0o600,
    },
  ];
  if (catalogPath)
    files.push({ path: catalogPath, content: catalogJson(spec.model, opts), mode: 0o600 });
  // The container is the sandbox; Codex's own sandbox and approval prompts would only get in the way.
  // `--strict-config` makes a Codex upgrade that drops one of our keys fail loudly instead of ignoring it.
  const flags = [
    "--json",
    "--skip-git-repo-check",
    "--dangerously-bypass-approvals-and-sandbox",
    "--strict-config",
  ];
  const head = spec.resumeId ? ["codex", "exec", "resume", spec.resumeId] : ["codex", "exec"];
  return {
    argv: [...head, ...flags, "-"], // "-": the prompt comes on stdin, never through argv
    env: { CODEX_HOME: spec.homeDir, [CODEX_TOKEN_ENV]: spec.modelToken },
    files,
    stdin: spec.prompt,
  };
}

const toml = (value: string) => JSON.stringify(value).replaceAll("\u007f", "\\u007F");

function codexConfig(spec: TurnSpec, catalogPath: string | undefined): string {
  return `# Written by Tandem before every turn; edits here are overwritten.
model = ${toml(spec.model)}
${spec.reasoningEffort ? `model_reasoning_effort = ${toml(spec.reasoningEffort)}` : ""}
model_provider = "tandem"
${catalogPath ? `model_catalog_json = ${toml(catalogPath)}` : ""}
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false
# Hosted web search needs OpenAI's servers; a proxied model cannot run it.
web_search = "disabled"

[model_providers.tandem]
name = "Tandem model proxy"
base_url = ${toml(spec.modelBaseUrl)}
env_key = "${CODEX_TOKEN_ENV}"
wire_api = "responses"
request_max_retries = 2
stream_max_retries = 2
stream_idle_timeout_ms = 300000

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
trace_exporter = "none"
metrics_exporter = "none"

[features]
plugins = false
apps = false

[skills.bundled]
enabled = false

[history]
persistence = "none"

# The plan tool: its todo lists become plan events, which the workbench and the threads show.
[tools.update_plan]
enabled = true

# Commands the agent runs never see the proxy token.
[shell_environment_policy]
exclude = ["${CODEX_TOKEN_ENV}"]
`;
}

/** One catalog entry giving an unknown model Codex's standard tools: the shell tool and freeform apply_patch. */
function catalogJson(model: string, opts: CodexAdapterOptions): string {
  const entry = {
    slug: model,
    display_name: model,
    visibility: "list",
    supported_in_api: true,
    priority: 0,
    shell_type: "shell_command",
    apply_patch_tool_type: "freeform",
    supported_reasoning_levels: [],
    support_verbosity: false,
    experimental_supported_tools: [],
    truncation_policy: { mode: "tokens", limit: 10_000 },
    context_window: opts.contextWindowTokens ?? 128_000,
    base_instructions: opts.instructions ?? DEFAULT_INSTRUCTIONS,
  };
  return `${JSON.stringify({ models: [entry] }, null, 2)}\n`;
}

const codexItem = z.discriminatedUnion("type", [
  z.object({ type: z.literal("agent_message"), text: z.string() }),
  z.object({
    type: z.literal("command_execution"),
    id: z.string().optional(),
    command: z.string(),
    aggregated_output: z.string().default(""),
    exit_code: z.number().nullable().default(null),
  }),
  z.object({
    type: z.literal("file_change"),
    status: z.string(),
    changes: z.array(z.object({ path: z.string(), kind: z.enum(["add", "update", "delete"]) })),
  }),
  z.object({
    type: z.literal("todo_list"),
    items: z.array(z.object({ text: z.string(), completed: z.boolean() })),
  }),
  z.object({ type: z.literal("error"), message: z.string() }),
]);

const itemPhase = z.enum(["item.started", "item.updated", "item.completed"]);
type ItemPhase = z.infer<typeof itemPhase>;

const codexLine = z.discriminatedUnion("type", [
  z.object({ type: z.literal("thread.started"), thread_id: z.string() }),
  z.object({ type: itemPhase, item: z.unknown() }),
  z.object({
    type: z.literal("turn.completed"),
    usage: z
      .object({ input_tokens: z.number().default(0), output_tokens: z.number().default(0) })
      .optional(),
  }),
  z.object({ type: z.literal("turn.failed"), error: z.object({ message: z.string() }).optional() }),
  z.object({ type: z.literal("error"), message: z.string() }),
]);

/** Maps one line of `codex exec --json` to Tandem's outputs; anything unrecognised maps to nothing. */
export function parseCodexLine(line: string): AgentOutput[] {
  const parsed = codexLine.safeParse(parseJsonLine(line));
  if (!parsed.success) return [];
  const msg = parsed.data;
  switch (msg.type) {
    case "thread.started":
      return [{ kind: "thread", id: msg.thread_id }];
    case "turn.completed":
      return [
        {
          kind: "usage",
          inputTokens: msg.usage?.input_tokens ?? 0,
          outputTokens: msg.usage?.output_tokens ?? 0,
        },
        { kind: "turn_completed" },
      ];
    case "turn.failed":
      // Codex prints the same message as a top-level `error` line just before, which became the error event.
      return [
        { kind: "turn_failed", message: msg.error?.message ?? "codex reported a failed turn" },
      ];
    case "error":
      // Also used for transient notices such as "Reconnecting... 1/2"; only turn.failed ends the turn.
      return [event({ type: "error", message: msg.message })];
    default:
      return itemOutputs(msg.type, msg.item);
  }
}

function itemOutputs(phase: ItemPhase, raw: unknown): AgentOutput[] {
  const parsed = codexItem.safeParse(raw);
  if (!parsed.success) return []; // reasoning, web_search, mcp_tool_call, ...
  const item = parsed.data;
  const completed = phase === "item.completed";
  switch (item.type) {
    case "agent_message":
      return completed ? [event({ type: "message", role: "assistant", text: item.text })] : [];
    case "command_execution": {
      const command = unwrapShell(item.command);
      const id = item.id === undefined ? {} : { id: item.id };
      if (phase === "item.started") return [event({ type: "command_started", command, ...id })];
      return completed
        ? [
            event({
              type: "command",
              command,
              output: item.aggregated_output,
              exitCode: item.exit_code,
              ...id,
            }),
          ]
        : [];
    }
    case "file_change":
      return completed && item.status === "completed"
        ? item.changes.map((change) =>
            event({ type: "file_change", path: change.path, kind: change.kind }),
          )
        : [];
    case "todo_list":
      // started/updated carry each new state; completed repeats the last one when the turn ends.
      return completed
        ? []
        : [
            event({
              type: "plan",
              steps: item.items.map((s) => ({ text: s.text, done: s.completed })),
            }),
          ];
    case "error":
      return [event({ type: "error", message: item.message })];
  }
}
