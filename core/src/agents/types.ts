import type { SessionEventBody } from "../events/types.ts";

export const REASONING_EFFORTS = ["minimal", "low", "medium", "high"] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

/** Everything an adapter needs to build one turn of one session. */
export interface TurnSpec {
  sessionId: string;
  prompt: string;
  /** The agent's own thread id, reported by an earlier turn; absent on the first turn. */
  resumeId?: string;
  model: string;
  /** How hard the model should think, where the agent has such a setting (Codex); others ignore it. */
  reasoningEffort?: ReasoningEffort;
  workdir: string;
  /** A per-session directory the adapter may write config into (e.g. CODEX_HOME); kept between turns. */
  homeDir: string;
  /** The session's model proxy, e.g. http://127.0.0.1:PORT/proxy/model/v1. */
  modelBaseUrl: string;
  /** A per-session proxy token, sent as a Bearer token to modelBaseUrl; never a provider key. */
  modelToken: string;
}

/** A process to run in `workdir`: write `files`, then spawn `argv` with `env` and feed it `stdin`. */
export interface AgentCommand {
  argv: string[];
  env: Record<string, string>;
  /** Absolute paths, written before the process starts. */
  files: Array<{ path: string; content: string; mode?: number }>;
  stdin?: string;
}

export type AgentOutput =
  | { kind: "event"; body: SessionEventBody }
  | { kind: "thread"; id: string }
  /** As the agent reports it at the end of a turn; after a resume Codex reports the thread's running total. */
  | { kind: "usage"; inputTokens: number; outputTokens: number }
  | { kind: "turn_completed" }
  | { kind: "turn_failed"; message: string };

/**
 * Reads an agent's stdout one line at a time. Lines may be replayed from a stored offset after
 * a crash, so a parser keeps no state that changes what a line means.
 */
interface AgentOutputParser {
  push(line: string): AgentOutput[];
}

export interface AgentAdapter {
  name: string;
  buildTurn(spec: TurnSpec): AgentCommand;
  createParser(): AgentOutputParser;
}

/** Parses one line as a JSON object; anything else (blank, partial, non-JSON) is undefined. */
export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  const text = line.trim();
  if (!text.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export const event = (body: SessionEventBody): AgentOutput => ({ kind: "event", body });
