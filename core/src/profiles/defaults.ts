import type { Config } from "../config.ts";
import { sandboxLimits } from "../sandbox/types.ts";
import { DEFAULT_NETWORK_POLICY } from "./network.ts";

/**
 * What a profile version gets for each field it leaves out, as this instance is configured: the
 * profile page shows these instead of the variables' names, and Settings the per-sandbox ceilings.
 */
export function profileDefaults(
  config: Pick<Config, "SANDBOX_IMAGE" | "AGENT" | "AGENT_MODEL" | "SANDBOX_IDLE_MINUTES">,
) {
  const limits = sandboxLimits();
  return {
    image: config.SANDBOX_IMAGE,
    agent: { kind: config.AGENT, model: config.AGENT_MODEL },
    limits: {
      cpus: limits.cpus ?? null,
      memoryBytes: limits.memoryBytes ?? null,
      pids: limits.pids ?? null,
      /** No cap unless the version sets one. */
      diskBytes: limits.diskBytes ?? null,
    },
    idleMinutes: config.SANDBOX_IDLE_MINUTES,
    network: DEFAULT_NETWORK_POLICY,
  };
}
