import { execFileSync } from "node:child_process";

/**
 * The browser workbench is built output (not committed): build it once before the suite.
 * @public (vitest.config.ts names this file in globalSetup)
 */
export default function setup() {
  execFileSync("npm", ["run", "--silent", "build:ui"], { stdio: "inherit" });
}
