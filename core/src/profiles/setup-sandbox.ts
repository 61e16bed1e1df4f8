import type { Config } from "../config.ts";
import type { SandboxSpec } from "../sandbox/types.ts";
import type { ProfileSpec } from "./spec.ts";

/** What a setup script gets when the profile sets no limits: enough for a dependency install. */
export const SETUP_DEFAULT_LIMITS = { cpus: 2, memoryBytes: 4 * 1024 ** 3, pids: 1024 } as const;

/**
 * The one-off sandbox a version's setup script runs in (a snapshot build, or a test of the
 * draft): the version's image, env, network and limits, the configured ones where it sets none.
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
    limits: { ...SETUP_DEFAULT_LIMITS, ...spec.limits },
  };
}
