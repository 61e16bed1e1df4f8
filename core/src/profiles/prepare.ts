import { finished } from "node:stream/promises";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Repository } from "../repositories/service.ts";
import { runSandboxSteps } from "../sandbox/files.ts";
import { GATEWAY_WAIT_STEP } from "../sandbox/gateway.ts";
import {
  cloneSteps,
  gitConfigSteps,
  gitFailure,
  gitHelperFile,
  repositoryDir,
  sandboxTokenFile,
  sandboxTokenPath,
} from "../sandbox/git-checkout.ts";
import { sandboxCommandEnv, type SandboxLayout, type SandboxProvider } from "../sandbox/types.ts";
import { issueBuildToken, revokeBuildToken } from "../sessions/sandbox-token.ts";
import type { ProfileSpec } from "./spec.ts";

interface PrepareRepositoriesInput {
  sandboxes: SandboxProvider;
  sandboxId: string;
  layout: SandboxLayout;
  /** In the profile's order; each is cloned under `<workspace>/<repo.name>`. */
  repositories: Array<Pick<Repository, "id" | "name" | "cloneUrl" | "defaultBranch">>;
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
async function prepareRepositories(input: PrepareRepositoriesInput): Promise<string> {
  const { sandboxes, sandboxId, layout } = input;
  const env = sandboxCommandEnv(layout);
  const configured = await runSandboxSteps(
    sandboxes,
    sandboxId,
    [...gitConfigSteps(layout, input.controlUrl, input.repositories), GATEWAY_WAIT_STEP],
    env,
    [sandboxTokenFile(layout, input.token), gitHelperFile(layout)],
  );
  if (configured.exitCode !== 0)
    throw new AppError(
      "checkout_failed",
      `configuring git failed: ${gitFailure(configured.stderr)}`,
    );
  const lines: string[] = [];
  // One exec per repository, so a failure names the one git could not clone.
  for (const repo of input.repositories) {
    const dir = repositoryDir(layout, repo);
    const r = await runSandboxSteps(
      sandboxes,
      sandboxId,
      [...cloneSteps(layout, repo), ["git", "-C", dir, "rev-parse", "--short", "HEAD"]],
      env,
    );
    if (r.exitCode !== 0) {
      throw new AppError(
        "checkout_failed",
        `cloning ${repo.name} (${repo.defaultBranch}) failed: ${gitFailure(r.stderr)}`,
      );
    }
    lines.push(`cloned ${repo.name} (${repo.defaultBranch} at ${r.stdout.trim()}) into ${dir}`);
  }
  return lines.join("\n");
}

/** Deletes the token file, so a committed image holds no credential (even a dead one). */
export async function removeSandboxToken(
  sandboxes: SandboxProvider,
  sandboxId: string,
  layout: SandboxLayout,
): Promise<void> {
  const r = await runSandboxSteps(
    sandboxes,
    sandboxId,
    [["rm", "-f", sandboxTokenPath(layout)]],
    {},
  );
  if (r.exitCode !== 0)
    throw new AppError(
      "sandbox_write_failed",
      `could not remove the sandbox token: ${r.stderr.trim()}`,
    );
}

/**
 * Runs a version's setup script in a started one-off sandbox (a snapshot build, a test of the
 * draft) where sessions will find things: the repositories cloned under the workspace with a
 * build token that answers for them only, then `bash -lc <script>` in the workspace with the
 * spec's env. Everything printed (the clone lines, then stdout and stderr in the order they
 * arrive) goes to `output`; the token is revoked when the script ends, however it ends.
 */
export async function runSetupScript(
  deps: { db: Db; clock: Clock; logger: Logger; sandboxes: SandboxProvider },
  run: {
    sandboxId: string;
    orgId: string;
    spec: ProfileSpec;
    repositories: Repository[];
    controlUrl: string;
    purpose: string;
    /** "profile node v3", for the egress proxy's refusals. */
    label: string;
  },
  output: (chunk: Buffer) => void,
): Promise<{ exitCode: number }> {
  const { sandboxes } = deps;
  const layout = sandboxes.layout(run.sandboxId);
  let token: string | undefined;
  try {
    // Issued even with no repository to clone: the gateway lets the script out only with it, under the version's policy.
    token = await issueBuildToken(deps, {
      orgId: run.orgId,
      repositoryIds: run.repositories.map((r) => r.id),
      purpose: run.purpose,
      network: run.spec.network,
      label: run.label,
    });
    if (!run.repositories.length) {
      const ready = await runSandboxSteps(sandboxes, run.sandboxId, [GATEWAY_WAIT_STEP], {}, [
        sandboxTokenFile(layout, token),
      ]);
      if (ready.exitCode !== 0)
        throw new AppError("sandbox_gateway_unavailable", ready.stderr.trim());
    } else {
      const cloned = await prepareRepositories({
        sandboxes,
        sandboxId: run.sandboxId,
        layout,
        repositories: run.repositories,
        controlUrl: run.controlUrl,
        token,
      });
      output(Buffer.from(`${cloned}\n`));
    }
    const proc = await sandboxes.exec(run.sandboxId, ["bash", "-lc", run.spec.setupScript], {
      cwd: layout.workspace,
      env: { ...run.spec.env, ...sandboxCommandEnv(layout) },
    });
    proc.stdout.on("data", output);
    proc.stderr.on("data", output);
    const { exitCode } = await proc.wait();
    await Promise.all([finished(proc.stdout), finished(proc.stderr)]).catch(() => {});
    return { exitCode };
  } finally {
    if (token)
      await revokeBuildToken(deps.db, token).catch((err) =>
        deps.logger.warn({ err }, "setup_script.revoke_failed"),
      );
  }
}
