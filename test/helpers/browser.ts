import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import { issueToken } from "@tandem/core";
import type { TestRuntime } from "./runtime.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = "test-artifacts";

/** Debian's chromium is installed by .ci/run; in CI its absence is a failure, not a skip. */
export function chromiumAvailable(): boolean {
  const ok = existsSync(CHROMIUM);
  if (!ok && process.env.CI)
    throw new Error(`CI needs ${CHROMIUM} (bash .ci/run installs Debian's chromium)`);
  return ok;
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Signs the page in as `userId` through a one-time login link, as the CLI's link does, landing on
 * `next` (a path of Tandem's) or the home page.
 */
export async function signIn(
  page: Page,
  stack: { base: string; rt: Pick<TestRuntime, "database" | "clock"> },
  userId: string,
  next?: string,
): Promise<void> {
  const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
    userId,
    kind: "login",
    ttlMs: 60_000,
  });
  const query = next ? `?next=${encodeURIComponent(next)}` : "";
  await page.goto(`${stack.base}/login/${login.token}${query}`);
}
