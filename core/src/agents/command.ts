import { z } from "zod";
import { sessionEventBody } from "../events/types.ts";
import { event, parseJsonLine, type AgentAdapter, type AgentOutput } from "./types.ts";

/** Lines a command agent may print besides session events. */
const controlLine = z.discriminatedUnion("type", [
  z.object({ type: z.literal("thread"), id: z.string().min(1) }),
  z.object({
    type: z.literal("usage"),
    inputTokens: z.number().default(0),
    outputTokens: z.number().default(0),
  }),
  z.object({ type: z.literal("turn_completed") }),
  z.object({
    type: z.literal("turn_failed"),
    message: z.string().default("the agent command reported a failed turn"),
  }),
]);

/** Maps one line printed by a command agent; lines that are neither shape are ignored. */
export function parseCommandLine(line: string): AgentOutput[] {
  const json = parseJsonLine(line);
  const body = sessionEventBody.safeParse(json);
  if (body.success) return [event(body.data)];
  const control = controlLine.safeParse(json);
  if (!control.success) return [];
  const parsed = control.data;
  switch (parsed.type) {
    case "thread":
      return [{ kind: "thread", id: parsed.id }];
    case "usage":
      return [
        { kind: "usage", inputTokens: parsed.inputTokens, outputTokens: parsed.outputTokens },
      ];
    case "turn_completed":
      return [{ kind: "turn_completed" }];
    case "turn_failed":
      return [{ kind: "turn_failed", message: parsed.message }];
  }
}

/**
 * Runs any CLI that speaks Tandem's own event shapes as JSONL: each line a session event
 * (`{"type":"message","role":"assistant","text":"hi"}`) or a thread / usage / turn_completed /
 * turn_failed line. The prompt arrives on stdin and in TANDEM_PROMPT.
 */
export function commandAdapter(argv: string[]): AgentAdapter {
  return {
    name: "command",
    buildTurn: (spec) => ({
      argv: [...argv],
      env: {
        TANDEM_SESSION_ID: spec.sessionId,
        TANDEM_PROMPT: spec.prompt,
        TANDEM_MODEL: spec.model,
        ...(spec.reasoningEffort ? { TANDEM_REASONING_EFFORT: spec.reasoningEffort } : {}),
        TANDEM_HOME_DIR: spec.homeDir,
        TANDEM_MODEL_BASE_URL: spec.modelBaseUrl,
        TANDEM_MODEL_TOKEN: spec.modelToken,
        ...(spec.resumeId ? { TANDEM_RESUME_ID: spec.resumeId } : {}),
      },
      files: [],
      stdin: spec.prompt,
    }),
    createParser: () => ({ push: parseCommandLine }),
  };
}
