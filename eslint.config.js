// `npm run lint`: typescript-eslint's recommended rules, promises that nobody awaits, and the
// module boundaries (test/boundaries.test.ts checks the same and names where code belongs).
import tseslint from "typescript-eslint";

/** Each provider SDK, and dockerode, may be imported only in its own folder. */
const SDK_HOME = {
  "bot/src/slack": ["@slack/bolt", "@slack/web-api", "@slack/oauth", "@slack/socket-mode"],
  "bot/src/github": ["@octokit/app", "@octokit/rest", "@octokit/webhooks", "@octokit/core"],
  "bot/src/linear": ["@linear/sdk"],
  "bot/src/jira": ["jira-client", "postman-request"],
  "bot/src/discord": ["discord.js"],
  "core/src/sandbox/docker": ["dockerode"],
};
const restricted = (allowedHome, extra = {}) => [
  "error",
  {
    paths: [
      ...Object.entries(SDK_HOME)
        .filter(([home]) => home !== allowedHome)
        .flatMap(([home, sdks]) =>
          sdks.map((name) => ({ name, message: `import ${name} only in ${home}/` })),
        ),
      ...(extra.paths ?? []),
    ],
    // Subpaths too (`@linear/sdk/webhooks`).
    patterns: [
      ...Object.entries(SDK_HOME)
        .filter(([home]) => home !== allowedHome)
        .map(([home, sdks]) => ({
          group: sdks.map((name) => `${name}/*`),
          message: `import these only in ${home}/`,
        })),
      ...(extra.patterns ?? []),
    ],
  },
];
/** web and worker loop over the ChatProvider list their entry file hands them; they never name a provider. */
const NO_PROVIDERS = {
  paths: [
    {
      name: "@tandem/bot",
      message:
        "only the entry files (src/start.ts, */src/main.ts) import @tandem/bot; take the providers from the ChatProvider list",
    },
  ],
  patterns: [
    {
      group: ["**/bot/src/**"],
      message: "web and worker never import a provider; take it from the ChatProvider list",
    },
  ],
};

export default tseslint.config(
  { ignores: ["**/node_modules/**", "web/ui/dist/**", "**/*.js", "**/*.mjs"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      "no-restricted-imports": restricted(undefined),
      // A `let` read by a closure before its one assignment (a handler set once ready) stays a `let`.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
    },
  },
  {
    files: ["web/src/**/*.ts", "worker/src/**/*.ts"],
    ignores: ["web/src/main.ts", "worker/src/main.ts"],
    rules: { "no-restricted-imports": restricted(undefined, NO_PROVIDERS) },
  },
  ...Object.keys(SDK_HOME).map((home) => ({
    files: [`${home}/**/*.ts`],
    rules: { "no-restricted-imports": restricted(home) },
  })),
  // Tests and benchmarks read fixtures and payloads of any shape.
  {
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "no-restricted-imports": "off" },
  },
);
