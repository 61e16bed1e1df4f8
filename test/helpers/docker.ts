import { spawnSync } from "node:child_process";

export const SANDBOX_IMAGE = process.env.TEST_SANDBOX_IMAGE ?? "tandem/sandbox:latest";

/**
 * Docker tests run wherever an engine and the sandbox image are present; in CI (.ci/run starts
 * the engine and builds the image) their absence is a failure, not a skip.
 */
export function dockerAvailable(): boolean {
  const ok =
    spawnSync("docker", ["image", "inspect", SANDBOX_IMAGE], { stdio: "ignore" }).status === 0;
  if (!ok && process.env.CI)
    throw new Error(`CI needs a Docker engine and ${SANDBOX_IMAGE} (bash .ci/run builds it)`);
  return ok;
}
