import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, it } from "vitest";
import { loadConfig } from "@tandem/core";
import { ROOT } from "./helpers/spawn.ts";

it(".env.example documents every setting, and its values load as they are", () => {
  const text = readFileSync(path.join(ROOT, ".env.example"), "utf8");
  const env = Object.fromEntries(
    text
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]),
  );
  const known = Object.keys(loadConfig({}));
  const source = readFileSync(path.join(ROOT, "core/src/config.ts"), "utf8");
  const declared = [...source.matchAll(/^  ([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!);
  expect(declared.length).toBeGreaterThan(30);
  for (const name of new Set([...declared, ...known]))
    expect(Object.keys(env), name).toContain(name);
  expect(() => loadConfig(env)).not.toThrow();
});
