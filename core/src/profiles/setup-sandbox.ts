import type { Config } from "../config.ts";
import { sandboxLimits, type SandboxSpec } from "../sandbox/types.ts";
import type { ProfileSpec } from "./spec.ts";

/**
 * The one-off sandbox a version's setup script runs in (a snapshot build, or a test of the
 * draft): the version's image, env, network and limits, the configured network and the sandbox
 * defaults (DEFAULT_SANDBOX_LIMITS, as session sandboxes get) where it sets none.
 */
export function setupSandboxSpec(
  config: Pick<Config, "SANDBOX_IMAGE" | "SANDBOX_NETWORK">, spec: ProfileSpec, name: string, labels: Record<string, string>,
): SandboxSpec {
  return {
    name,
    image: spec.image ?? config.SANDBOX_IMAGE,
    labels,
    env: spec.env,
    network: spec.network ?? config.SANDBOX_NETWORK,
    limits: sandboxLimits(spec.limits),
  };
}
