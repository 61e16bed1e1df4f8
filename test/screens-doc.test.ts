import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/spawn.ts";

/** Every page a browser test screenshots with checkPage is shown in docs/screens.md, and no other. */
describe("docs/screens.md", () => {
  it("shows every screen the browser tests save, at both widths and in both schemes", () => {
    const dir = path.join(ROOT, "test/e2e");
    const names = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".test.ts")))
      for (const m of readFileSync(path.join(dir, file), "utf8").matchAll(
        /checkPage\(\s*\w+,\s*"([^"]+)"/g,
      ))
        names.add(m[1]!);
    expect(names.size).toBeGreaterThan(10);
    const doc = readFileSync(path.join(ROOT, "docs/screens.md"), "utf8");
    const shown = new Set(
      [...doc.matchAll(/test-artifacts\/screens\/([a-z0-9-]+)-(light|dark)-(1440|390)\.png/g)].map(
        (m) => m[1]!,
      ),
    );
    expect([...shown].sort()).toEqual([...names].sort());
    for (const name of names)
      for (const variant of ["light-1440", "light-390", "dark-1440", "dark-390"])
        expect(doc).toContain(`screens/${name}-${variant}.png`);
  });
});
