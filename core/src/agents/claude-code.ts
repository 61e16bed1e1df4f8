import { z } from "zod";
import {
  event,
  parseJsonLine,
  type AgentAdapter,
  type AgentCommand,
  type AgentOutput,
  type TurnSpec,
} from "./types.ts";

/** Claude Code's tools that change files, and where each names the file. */
const FILE_TOOLS: Record<string, "file_path" | "notebook_path"> = {
  Edit: "file_path",
  MultiEdit: "file_path",
  Write: "file_path",
  NotebookEdit: "notebook_path",
};

export const claudeCodeAdapter: AgentAdapter = {
  name: "claude-code",
  buildTurn: buildClaudeTurn,
  createParser: createClaudeParser,
};

function buildClaudeTurn(spec: TurnSpec): AgentCommand {
  const resume = spec.resumeId ? ["--resume", spec.resumeId] : [];
  return {
    // No prompt argument: `claude -p` reads it from stdin.
    argv: [
      "claude",
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--model",
      spec.model,
      "--dangerously-skip-permissions",
      ...resume,
    ],
    env: {
      // The Anthropic client appends /v1/messages itself.
      ANTHROPIC_BASE_URL: spec.modelBaseUrl.replace(/\/v1\/?$/, ""),
      ANTHROPIC_AUTH_TOKEN: spec.modelToken,
      CLAUDE_CONFIG_DIR: spec.homeDir, // sessions live here, so --resume finds them next turn
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
      DISABLE_TELEMETRY: "1",
      DISABLE_ERROR_REPORTING: "1",
      IS_SANDBOX: "1", // the container is the sandbox; lets --dangerously-skip-permissions run as root
    },
    files: [],
    stdin: spec.prompt,
  };
}

const toolUse = z.object({
  type: z.literal("tool_use"),
  id: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
});
const toolResult = z.object({
  type: z.literal("tool_result"),
  tool_use_id: z.string(),
  is_error: z.boolean().optional(),
  content: z
    .union([z.string(), z.array(z.object({ type: z.string(), text: z.string().optional() }))])
    .optional(),
});
const block = z.union([
  z.object({ type: z.literal("text"), text: z.string() }),
  toolUse,
  toolResult,
  z.object({ type: z.string() }),
]);

const claudeLine = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("system"),
    subtype: z.string().optional(),
    session_id: z.string().optional(),
  }),
  z.object({ type: z.literal("assistant"), message: z.object({ content: z.array(block) }) }),
  z.object({
    type: z.literal("user"),
    message: z.object({ content: z.union([z.string(), z.array(block)]) }),
    tool_use_result: z.unknown().optional(),
  }),
  z.object({
    type: z.literal("result"),
    subtype: z.string().optional(),
    is_error: z.boolean().optional(),
    result: z.string().optional(),
    usage: z.record(z.string(), z.unknown()).optional(),
  }),
]);

type ToolUse = z.infer<typeof toolUse>;

/**
 * Maps `claude -p --output-format stream-json` lines. A Bash call and its output arrive on two
 * lines, so the parser remembers tool calls until their result; after a restart between the two,
 * that one command's event is lost rather than guessed.
 */
export function createClaudeParser() {
  const pending = new Map<string, ToolUse>();
  return {
    push(line: string): AgentOutput[] {
      const parsed = claudeLine.safeParse(parseJsonLine(line));
      if (!parsed.success) return [];
      const msg = parsed.data;
      switch (msg.type) {
        case "system":
          return msg.subtype === "init" && msg.session_id
            ? [{ kind: "thread", id: msg.session_id }]
            : [];
        case "assistant":
          return msg.message.content.flatMap((b): AgentOutput[] => {
            if (b.type === "text" && "text" in b)
              return b.text.trim()
                ? [event({ type: "message", role: "assistant", text: b.text })]
                : [];
            const use = toolUse.safeParse(b);
            if (!use.success) return [];
            if (use.data.name === "TodoWrite") return planFrom(use.data);
            if (use.data.name === "Bash" || FILE_TOOLS[use.data.name])
              pending.set(use.data.id, use.data);
            return use.data.name === "Bash"
              ? [
                  event({
                    type: "command_started",
                    command: String(use.data.input.command ?? ""),
                    id: use.data.id,
                  }),
                ]
              : [];
          });
        case "user": {
          if (typeof msg.message.content === "string") return [];
          return msg.message.content.flatMap((b): AgentOutput[] => {
            const result = toolResult.safeParse(b);
            if (!result.success) return [];
            const use = pending.get(result.data.tool_use_id);
            pending.delete(result.data.tool_use_id);
            return use ? toolOutputs(use, result.data, msg.tool_use_result) : [];
          });
        }
        case "result":
          return resultOutputs(msg);
      }
    },
  };
}

function toolOutputs(
  use: ToolUse,
  result: z.infer<typeof toolResult>,
  structured: unknown,
): AgentOutput[] {
  const output =
    typeof result.content === "string"
      ? result.content
      : (result.content ?? []).map((c) => c.text ?? "").join("");
  if (use.name === "Bash") {
    const exitCode = result.is_error ? Number(/^Exit code (\d+)/.exec(output)?.[1] ?? 1) : 0;
    const command = String(use.input.command ?? "");
    return [event({ type: "command", command, output, exitCode, id: use.id })];
  }
  const key = FILE_TOOLS[use.name];
  const path = key && use.input[key];
  if (result.is_error || typeof path !== "string") return [];
  // Write reports whether it created the file; everything else edits an existing one.
  const created =
    use.name === "Write" && (structured as { type?: unknown } | undefined)?.type === "create";
  return [event({ type: "file_change", path, kind: created ? "add" : "update" })];
}

function planFrom(use: ToolUse): AgentOutput[] {
  const todos = z
    .array(z.object({ content: z.string(), status: z.string() }))
    .safeParse(use.input.todos);
  if (!todos.success) return [];
  return [
    event({
      type: "plan",
      steps: todos.data.map((t) => ({ text: t.content, done: t.status === "completed" })),
    }),
  ];
}

function resultOutputs(msg: {
  subtype?: string;
  is_error?: boolean;
  result?: string;
  usage?: Record<string, unknown>;
}): AgentOutput[] {
  const n = (key: string) =>
    typeof msg.usage?.[key] === "number" ? (msg.usage[key] as number) : 0;
  const usage: AgentOutput = {
    kind: "usage",
    // Like Codex, count cached prompt tokens as input.
    inputTokens:
      n("input_tokens") + n("cache_creation_input_tokens") + n("cache_read_input_tokens"),
    outputTokens: n("output_tokens"),
  };
  if (!msg.is_error) return [usage, { kind: "turn_completed" }];
  const message = msg.result || `claude ended the turn with ${msg.subtype ?? "an error"}`;
  return [usage, event({ type: "error", message }), { kind: "turn_failed", message }];
}
