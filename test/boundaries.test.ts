import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/spawn.ts";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === "node_modules" ? [] : sourceFiles(full);
    return /\.(ts|tsx)$/.test(name) ? [full] : [];
  });
}

const imports = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/(?:from\s+|import\s*\(\s*)["']([^"']+)["']/g)].map(
    (m) => m[1]!,
  );

/** Each provider SDK may be imported only inside its own folder. */
const SDK_HOME: Record<string, string> = {
  "@slack/bolt": "bot/src/slack/",
  "@slack/web-api": "bot/src/slack/",
  "@slack/oauth": "bot/src/slack/",
  "@slack/socket-mode": "bot/src/slack/",
  "@octokit/app": "bot/src/github/",
  "@octokit/rest": "bot/src/github/",
  "@octokit/webhooks": "bot/src/github/",
  "@octokit/core": "bot/src/github/",
  "@linear/sdk": "bot/src/linear/",
  "jira-client": "bot/src/jira/",
  "discord.js": "bot/src/discord/",
  dockerode: "core/src/sandbox/docker/",
};

const files = ["core", "bot", "worker", "web"].flatMap((pkg) =>
  sourceFiles(path.join(ROOT, pkg, "src")),
);

describe("module boundaries", () => {
  it("finds the source files it checks", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it("imports provider SDKs and dockerode only in their own folders", () => {
    const violations = files.flatMap((file) => {
      const rel = path.relative(ROOT, file);
      return imports(file)
        .filter((spec) => SDK_HOME[spec] && !rel.startsWith(SDK_HOME[spec]!))
        .map((spec) => `${rel} imports ${spec}; that belongs in ${SDK_HOME[spec]}`);
    });
    expect(violations).toEqual([]);
  });

  it("keeps core free of bot, worker and web, and providers free of each other", () => {
    const violations = files.flatMap((file) => {
      const rel = path.relative(ROOT, file);
      return imports(file).flatMap((spec) => {
        const resolved = spec.startsWith(".")
          ? path.relative(ROOT, path.resolve(path.dirname(file), spec))
          : spec;
        if (
          rel.startsWith("core/") &&
          /^(@tandem\/(bot|worker|web)|(bot|worker|web)\/)/.test(resolved)
        ) {
          return [
            `${rel} imports ${spec}: core must not depend on bot, worker or web; move the shared part into core`,
          ];
        }
        const provider = rel.match(/^bot\/src\/(\w+)\//)?.[1];
        const other = resolved.match(/^bot\/src\/(\w+)\//)?.[1];
        if (provider && other && other !== provider) {
          return [
            `${rel} imports ${spec}: provider folders must not import each other; share it through core`,
          ];
        }
        return [];
      });
    });
    expect(violations).toEqual([]);
  });
});
