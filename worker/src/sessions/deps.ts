import type { AgentAdapter, Runtime, SandboxProvider } from "@tandem/core";

/** What the session runner needs: the shared runtime and a sandbox backend. */
export interface RunnerDeps {
  rt: Runtime;
  sandboxes: SandboxProvider;
  /** Runs every session's turns, whatever its profile says (tests use a scripted command agent). */
  agent?: AgentAdapter;
  /** How often a running turn's output, the session's state and the sandbox are checked. */
  pollMs: number;
}
