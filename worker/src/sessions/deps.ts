import type { AgentAdapter, Runtime, SandboxProvider } from "@tandem/core";

/** What the session runner needs: the shared runtime, a sandbox backend and an agent adapter. */
export interface RunnerDeps {
  rt: Runtime;
  sandboxes: SandboxProvider;
  agent: AgentAdapter;
  /** How often a running turn's output, the session's state and the sandbox are checked. */
  pollMs: number;
}
