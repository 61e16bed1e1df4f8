import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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

/** A source file as the checks see it: its path from the repository's root, and its text. */
interface Source {
  rel: string;
  text: string;
}

const importsOf = (text: string) =>
  [...text.matchAll(/(?:from\s+|import\s*\(\s*)["']([^"']+)["']/g)].map((m) => m[1]!);

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
  "postman-request": "bot/src/jira/",
  "discord.js": "bot/src/discord/",
  dockerode: "core/src/sandbox/docker/",
};

/** The package an import names: `@linear/sdk/webhooks` is `@linear/sdk`. */
const packageOf = (spec: string) =>
  spec
    .split("/")
    .slice(0, spec.startsWith("@") ? 2 : 1)
    .join("/");

/** Provider SDKs and dockerode imported outside their folders, each naming where it belongs. */
function sdkViolations(sources: Source[]): string[] {
  return sources.flatMap(({ rel, text }) =>
    importsOf(text)
      .filter((spec) => SDK_HOME[packageOf(spec)] && !rel.startsWith(SDK_HOME[packageOf(spec)]!))
      .map((spec) => `${rel} imports ${spec}; that belongs in ${SDK_HOME[packageOf(spec)]}`),
  );
}

/** Core depending on bot, worker or web, and provider folders importing each other. */
function layerViolations(sources: Source[]): string[] {
  return sources.flatMap(({ rel, text }) =>
    importsOf(text).flatMap((spec) => {
      const resolved = spec.startsWith(".") ? path.join(path.dirname(rel), spec) : spec;
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
    }),
  );
}

/** The processes' entry points: the only files that may name the providers (through `@tandem/bot`). */
const ENTRY_FILES = new Set([
  "src/start.ts",
  "web/src/main.ts",
  "worker/src/main.ts",
  "bot/src/main.ts",
]);
const PROVIDER_NAMES = ["slack", "github", "linear", "jira", "discord"];

/**
 * Provider wiring outside the provider seam: `@tandem/bot` imported by anything but an entry
 * file, and a provider named by a string in web or worker code (which loops over the providers).
 */
function wiringViolations(sources: Source[]): string[] {
  const named = new RegExp(`["'\`](${PROVIDER_NAMES.join("|")})["'\`]`, "g");
  return sources.flatMap(({ rel, text }) => {
    if (ENTRY_FILES.has(rel)) return [];
    const found = importsOf(text)
      .filter((spec) => {
        const resolved = spec.startsWith(".") ? path.join(path.dirname(rel), spec) : spec;
        return (
          /^@tandem\/bot(\/|$)/.test(resolved) ||
          (!rel.startsWith("bot/") && /^bot\//.test(resolved))
        );
      })
      .map(
        (spec) =>
          `${rel} imports ${spec}: only the entry files (${[...ENTRY_FILES].join(", ")}) name the providers; take them from the ChatProvider list instead`,
      );
    if (/^(web|worker)\/src\//.test(rel)) {
      const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      for (const m of code.matchAll(named))
        found.push(
          `${rel} names the provider ${m[0]}: web and worker loop over the providers; put what is ${m[1]}'s in bot/src/${m[1]}/ behind the ChatProvider interface`,
        );
    }
    return found;
  });
}

const files = [
  ...["core", "bot", "worker", "web"].flatMap((pkg) => sourceFiles(path.join(ROOT, pkg, "src"))),
  path.join(ROOT, "src/start.ts"),
];
const sources = files.map((file) => ({
  rel: path.relative(ROOT, file),
  text: readFileSync(file, "utf8"),
}));

describe("module boundaries", () => {
  it("finds the source files it checks", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it("imports provider SDKs and dockerode only in their own folders", () => {
    expect(sdkViolations(sources)).toEqual([]);
  });

  it("keeps core free of bot, worker and web, and providers free of each other", () => {
    expect(layerViolations(sources)).toEqual([]);
  });

  it("names the providers only in the entry files: web and worker loop over them", () => {
    expect(wiringViolations(sources)).toEqual([]);
  });

  it("finds provider wiring added outside the entry files, naming where it belongs (a test of the check)", () => {
    const wired: Source[] = [
      { rel: "web/src/main.ts", text: 'import { createProviders } from "@tandem/bot";\n' },
      { rel: "web/src/app.ts", text: 'import { slackRoutes } from "@tandem/bot";\n' },
      {
        rel: "worker/src/sessions/publish.ts",
        text: '// "github" in a comment is fine\nconst PUBLISHING = ["github"];\n',
      },
      { rel: "worker/src/x.ts", text: 'import { y } from "../../bot/src/jira/index.ts";\n' },
      { rel: "bot/src/slack/index.ts", text: 'const name = "slack";\n' },
    ];
    expect(wiringViolations(wired)).toEqual([
      "web/src/app.ts imports @tandem/bot: only the entry files (src/start.ts, web/src/main.ts, worker/src/main.ts, bot/src/main.ts) name the providers; take them from the ChatProvider list instead",
      'worker/src/sessions/publish.ts names the provider "github": web and worker loop over the providers; put what is github\'s in bot/src/github/ behind the ChatProvider interface',
      "worker/src/x.ts imports ../../bot/src/jira/index.ts: only the entry files (src/start.ts, web/src/main.ts, worker/src/main.ts, bot/src/main.ts) name the providers; take them from the ChatProvider list instead",
    ]);
  });

  it("names the file and where the code belongs when a boundary is crossed (a test of the checks)", () => {
    const crossing: Source[] = [
      {
        rel: "web/src/routes/x.ts",
        text: 'import { App } from "@slack/bolt";\nimport Docker from "dockerode";\nimport { LinearWebhookClient } from "@linear/sdk/webhooks";\n',
      },
      { rel: "bot/src/slack/ok.ts", text: 'import { App } from "@slack/bolt";\n' },
      {
        rel: "core/src/x.ts",
        text: 'import { startBot } from "@tandem/bot";\nimport { y } from "../../web/src/y.ts";\n',
      },
      {
        rel: "bot/src/slack/z.ts",
        text: 'import { githubSettings } from "../github/config.ts";\n',
      },
    ];
    expect(sdkViolations(crossing)).toEqual([
      "web/src/routes/x.ts imports @slack/bolt; that belongs in bot/src/slack/",
      "web/src/routes/x.ts imports dockerode; that belongs in core/src/sandbox/docker/",
      "web/src/routes/x.ts imports @linear/sdk/webhooks; that belongs in bot/src/linear/",
    ]);
    expect(layerViolations(crossing)).toEqual([
      "core/src/x.ts imports @tandem/bot: core must not depend on bot, worker or web; move the shared part into core",
      "core/src/x.ts imports ../../web/src/y.ts: core must not depend on bot, worker or web; move the shared part into core",
      "bot/src/slack/z.ts imports ../github/config.ts: provider folders must not import each other; share it through core",
    ]);
  });
});

/**
 * The value imports of each file that resolve to another file of the set (`import type` and
 * `export type` are erased, so they make no cycle), and every cycle among them, each named by
 * its files in import order.
 */
function importCycles(sources: string[]): string[] {
  const known = new Set(sources);
  const resolve = (from: string, spec: string) =>
    [spec, `${spec}.ts`, path.join(spec, "index.ts")]
      .map((s) => path.resolve(path.dirname(from), s))
      .find((f) => known.has(f));
  const graph = new Map(
    sources.map((file) => {
      const text = readFileSync(file, "utf8");
      const specs = [
        ...text.matchAll(/^(?:import|export)(?!\s+type\b)[^;]*?from\s+["'](\.[^"']+)["']/gm),
      ];
      return [file, specs.flatMap((m) => resolve(file, m[1]!) ?? [])];
    }),
  );
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === "open") {
        const cycle = [...stack.slice(stack.indexOf(next)), next];
        cycles.push(cycle.map((f) => path.relative(ROOT, f)).join(" -> "));
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of sources) if (!state.has(file)) visit(file);
  return cycles;
}

describe("import cycles", () => {
  it("finds a cycle, naming its files, and ignores type-only imports (a test of the check)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "tandem-cycles-"));
    try {
      const write = (name: string, text: string) => {
        writeFileSync(path.join(dir, name), text);
        return path.join(dir, name);
      };
      const a = write("a.ts", 'import { b } from "./b.ts";\nexport const a = () => b;\n');
      const b = write("b.ts", 'import { c } from "./c";\nexport const b = 1 + c;\n');
      const c = write("c.ts", 'import { a } from "./a.ts";\nexport const c = a.length;\n');
      const d = write("d.ts", 'import type { a } from "./a.ts";\nexport type D = typeof a;\n');
      const e = write("e.ts", 'import { d } from "./d.ts";\nexport const e = 1;\n');
      expect(
        importCycles([a, b, c, d, e]).map((cycle) =>
          cycle.replaceAll(`${path.relative(ROOT, dir)}/`, ""),
        ),
      ).toEqual(["a.ts -> b.ts -> c.ts -> a.ts"]);
      expect(importCycles([a, b, d, e])).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has none in core, bot, worker and web", () => {
    expect(importCycles(files)).toEqual([]);
  });
});
