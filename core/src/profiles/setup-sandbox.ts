import type { Config } from "../config.ts";
import { sandboxNetwork } from "../sandbox/gateway.ts";
import { sandboxLimits, type SandboxSpec } from "../sandbox/types.ts";
import type { ProfileSpec } from "./spec.ts";

/**
 * The one-off sandbox a version's setup script runs in (a snapshot build, or a test of the
 * draft): the version's image, env, network and limits, the configured network and the sandbox
 * defaults (DEFAULT_SANDBOX_LIMITS, as session sandboxes get) where it sets none.
 */
export function setupSandboxSpec(
  config: Config,
  spec: ProfileSpec,
  name: string,
  labels: Record<string, string>,
): SandboxSpec & { controlUrl: string } {
  const network = sandboxNetwork(config, spec);
  return {
    name,
    image: spec.image ?? config.SANDBOX_IMAGE,
    labels,
    env: { ...spec.env, ...network.env },
    network: network.mode,
    gatewaySource: network.gatewaySource,
    limits: sandboxLimits(spec.limits),
    controlUrl: network.controlUrl,
  };
}
