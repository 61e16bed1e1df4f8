import type { AgentAdapter, ChatProvider, Runtime, SandboxProvider } from "@tandem/core";

/** What the session runner needs: the shared runtime and a sandbox backend. */
export interface RunnerDeps {
  rt: Runtime;
  sandboxes: SandboxProvider;
  /** The configured providers: publishing ones get the session's work pushed after each turn. */
  providers: readonly ChatProvider[];
  /** Runs every session's turns, whatever its profile says (tests use a scripted command agent). */
  agent?: AgentAdapter;
  /** How often a running turn's output, the session's state and the sandbox are checked. */
  pollMs: number;
}
