import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { ARTIFACTS } from "./browser.ts";
import { seriousA11yViolations } from "./axe.ts";

const SCREENS = path.join(ARTIFACTS, "screens");
const SIZES = [
  { width: 1440, height: 900 },
  { width: 390, height: 844 },
] as const;

export interface PageCheck {
  /** axe's serious or critical findings, per scheme and width. */
  violations: string[];
  /** Widths at which the page scrolls sideways, with how far. */
  overflow: string[];
}

/**
 * Looks at the page as people will: at 1440x900 and 390x844, light and dark. Saves a screenshot
 * of each to test-artifacts/screens/<name>-<scheme>-<width>.png (docs/screens.md shows them),
 * runs axe-core on each, and measures sideways scrolling. The page's viewport is restored.
 */
export async function checkPage(
  page: Page,
  name: string,
  ready?: () => Promise<unknown>,
): Promise<PageCheck> {
  mkdirSync(SCREENS, { recursive: true });
  const before = page.viewportSize();
  const result: PageCheck = { violations: [], overflow: [] };
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await ready?.();
      await page.waitForTimeout(150);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > size.width)
        result.overflow.push(`${scheme} ${size.width}px: scrollWidth ${width}`);
      for (const v of await seriousA11yViolations(page))
        result.violations.push(`${scheme} ${size.width}px ${v}`);
      await page.screenshot({ path: path.join(SCREENS, `${name}-${scheme}-${size.width}.png`) });
    }
  }
  await page.emulateMedia({ colorScheme: null });
  if (before) await page.setViewportSize(before);
  return result;
}
