import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { DockerSandboxProvider } from "./docker/provider.ts";
import { LocalSandboxProvider } from "./local/provider.ts";
import type { SandboxProvider } from "./types.ts";

export * from "./types.ts";

export function createSandboxProvider(config: Config, logger: Logger): SandboxProvider {
  if (config.SANDBOX_PROVIDER === "docker" && config.SANDBOX_NETWORK === "host") {
    logger.warn(
      "sandbox.host_network: SANDBOX_NETWORK=host puts every sandbox on this host's network, where it reaches Postgres, Redis, Tandem and other sandboxes; for development only (use gateway)",
    );
  }
  return config.SANDBOX_PROVIDER === "docker"
    ? new DockerSandboxProvider({ dockerHost: config.DOCKER_HOST, logger })
    : new LocalSandboxProvider({ baseDir: config.DATA_DIR, logger });
}
export * from "./files.ts";
export * from "./gateway.ts";
export * from "./git-checkout.ts";
export * from "./setup-files.ts";
