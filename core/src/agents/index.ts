import { AppError } from "../errors.ts";
import { claudeCodeAdapter } from "./claude-code.ts";
import { createCodexAdapter, type CodexAdapterOptions } from "./codex.ts";
import { commandAdapter } from "./command.ts";
import type { AgentAdapter } from "./types.ts";

export * from "./types.ts";
export { commandAdapter } from "./command.ts";

export type AgentName = "codex" | "claude-code" | "command";

export interface AgentAdapterOptions {
  /** The program a `command` agent runs, e.g. ["node", "my-agent.js"]. */
  command?: string[];
  codex?: CodexAdapterOptions;
}

export function getAgentAdapter(name: AgentName, opts: AgentAdapterOptions = {}): AgentAdapter {
  switch (name) {
    case "codex":
      return createCodexAdapter(opts.codex);
    case "claude-code":
      return claudeCodeAdapter;
    case "command":
      if (!opts.command?.length) {
        throw new AppError(
          "agent_config",
          'the command agent needs a program to run, e.g. command: ["node", "agent.js"]',
        );
      }
      return commandAdapter(opts.command);
  }
}
