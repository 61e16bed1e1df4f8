import { AppError } from "../errors.ts";
import type { Repository } from "../repositories/service.ts";
import { runSandboxSteps } from "../sandbox/files.ts";
import {
  cloneSteps, gitConfigSteps, gitFailure, gitHelperFile, repositoryDir, sandboxTokenFile, sandboxTokenPath,
} from "../sandbox/git-checkout.ts";
import { sandboxCommandEnv, type SandboxLayout, type SandboxProvider } from "../sandbox/types.ts";

export interface PrepareRepositoriesInput {
  sandboxes: SandboxProvider;
  sandboxId: string;
  layout: SandboxLayout;
  /** In the profile's order; each is cloned under `<workspace>/<repo.name>`. */
  repositories: Array<Pick<Repository, "name" | "cloneUrl" | "defaultBranch">>;
  /** The control plane as the sandbox reaches it (sandboxControlUrl). */
  controlUrl: string;
  /** A token the git credential route accepts for these repositories (issueBuildToken). */
  token: string;
}

/**
 * Readies a sandbox that belongs to no session (a snapshot build, a setup-script test) the way a
 * session's checkout does: the token file, the git credential helper and config, then each
 * repository cloned at its default branch. Returns a line per clone, for the build's log; throws
 * `checkout_failed` naming the repository git could not clone. The token file stays: remove it
 * (removeSandboxToken) before the sandbox is committed to an image.
 */
export async function prepareRepositories(input: PrepareRepositoriesInput): Promise<string> {
  const { sandboxes, sandboxId, layout } = input;
  const env = sandboxCommandEnv(input.controlUrl, layout);
  const configured = await runSandboxSteps(sandboxes, sandboxId, gitConfigSteps(layout), env, [sandboxTokenFile(layout, input.token), gitHelperFile(layout)]);
  if (configured.exitCode !== 0) throw new AppError("checkout_failed", `configuring git failed: ${gitFailure(configured.stderr)}`);
  const lines: string[] = [];
  // One exec per repository, so a failure names the one git could not clone.
  for (const repo of input.repositories) {
    const dir = repositoryDir(layout, repo);
    const r = await runSandboxSteps(sandboxes, sandboxId, [...cloneSteps(layout, repo), ["git", "-C", dir, "rev-parse", "--short", "HEAD"]], env);
    if (r.exitCode !== 0) {
      throw new AppError("checkout_failed", `cloning ${repo.name} (${repo.defaultBranch}) failed: ${gitFailure(r.stderr)}`);
    }
    lines.push(`cloned ${repo.name} (${repo.defaultBranch} at ${r.stdout.trim()}) into ${dir}`);
  }
  return lines.join("\n");
}

/** Deletes the token file, so a committed image holds no credential (even a dead one). */
export async function removeSandboxToken(sandboxes: SandboxProvider, sandboxId: string, layout: SandboxLayout): Promise<void> {
  const r = await runSandboxSteps(sandboxes, sandboxId, [["rm", "-f", sandboxTokenPath(layout)]], {});
  if (r.exitCode !== 0) throw new AppError("sandbox_write_failed", `could not remove the sandbox token: ${r.stderr.trim()}`);
}
