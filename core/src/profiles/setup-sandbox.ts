import type { Config } from "../config.ts";
import { sandboxLimits, type SandboxSpec } from "../sandbox/types.ts";
import type { ProfileSpec } from "./spec.ts";

/**
 * The Docker network a version's sandbox joins: the host's for `hostNetwork`, SANDBOX_NETWORK
 * otherwise (its egress policy is the gateway's to apply, not Docker's).
 */
export const sandboxNetworkMode = (config: Pick<Config, "SANDBOX_NETWORK">, spec: ProfileSpec | undefined) =>
  (spec?.hostNetwork ? "host" : config.SANDBOX_NETWORK);

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
    network: sandboxNetworkMode(config, spec),
    limits: sandboxLimits(spec.limits),
  };
}
