import type { Repository } from "../repositories/service.ts";
import type { SandboxFile } from "./files.ts";
import { GIT_CREDENTIAL_HELPER_SCRIPT, gitCredentialConfig } from "./git-credential-helper.ts";
import type { SandboxLayout } from "./types.ts";

/**
 * The git set-up every checkout in a sandbox shares (sessions, snapshot builds, setup-script
 * tests): the token file the credential helper reads, the helper, and git's global config.
 */

/** Where the sandbox token lives; sandboxCommandEnv points TANDEM_TOKEN_FILE here. */
export const sandboxTokenPath = (layout: SandboxLayout) => `${layout.state}/token`;
const gitHelperPath = (layout: SandboxLayout) => `${layout.state}/git-credential-tandem`;

/** A repository's checkout: `<workspace>/<owner>/<repo>`, where sessions and setup scripts find it. */
export const repositoryDir = (layout: SandboxLayout, repo: Pick<Repository, "name">) =>
  `${layout.workspace}/${repo.name}`;

export const sandboxTokenFile = (layout: SandboxLayout, token: string): SandboxFile => ({
  path: sandboxTokenPath(layout),
  content: token,
  mode: 0o600,
});

export const gitHelperFile = (layout: SandboxLayout): SandboxFile => ({
  path: gitHelperPath(layout),
  content: GIT_CREDENTIAL_HELPER_SCRIPT,
  mode: 0o755,
});

/**
 * `git config --global` for the sandbox user: Tandem's git remote for each repository, its
 * credential helper, and the commit identity.
 */
export const gitConfigSteps = (
  layout: SandboxLayout,
  controlUrl: string,
  repositories: ReadonlyArray<Pick<Repository, "id" | "cloneUrl">>,
): string[][] => [
  ...gitCredentialConfig(gitHelperPath(layout), controlUrl, repositories),
  ["git", "config", "--global", "user.name", "Tandem"],
  ["git", "config", "--global", "user.email", "tandem@users.noreply.localhost"],
];

/** Clones the repository's default branch into its directory. */
export const cloneSteps = (
  layout: SandboxLayout,
  repo: Pick<Repository, "name" | "cloneUrl" | "defaultBranch">,
): string[][] => [
  [
    "git",
    "clone",
    "--quiet",
    "--branch",
    repo.defaultBranch,
    "--",
    repo.cloneUrl,
    repositoryDir(layout, repo),
  ],
];

/** git's progress chatter, which says nothing about why it failed. */
const PROGRESS =
  /^(Cloning into|remote: (Enumerating|Counting|Compressing|Total)|Receiving objects|Resolving deltas|Updating files)/;

/** git's stderr for an error message: all of what it said, but its progress lines (at most 2,000 characters). */
export function gitFailure(stderr: string): string {
  const said = stderr
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l && !PROGRESS.test(l))
    .join("\n");
  return said.length > 2_000 ? `…${said.slice(-1_999)}` : said || "git said nothing";
}
