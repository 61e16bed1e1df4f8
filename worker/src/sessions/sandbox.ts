import { and, eq, isNull } from "drizzle-orm";
import {
  AppError, cloneSteps, gitConfigSteps, gitFailure, gitHelperFile, sandboxCommandEnv, issueSandboxToken, readySnapshot,
  repositoryDir, runSandboxSteps, sandboxControlUrl, sandboxTokenFile, schema, storedSpec, writeSandboxFiles,
  type ProfileSpec, type Repository, type SandboxFile, type SandboxLayout, type Session,
} from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";

export interface ActiveSandbox {
  rowId: string;
  id: string;
  layout: SandboxLayout;
  workdir: string;
  token: string;
}

export const branchFor = (sessionId: string) => `tandem/${sessionId.slice(0, 8)}`;
export const repoDir = repositoryDir;

/** The session's sandbox, running: created and checked out on first use, restarted when it was stopped. */
export async function ensureSandbox(deps: RunnerDeps, session: Session, repo: Repository): Promise<ActiveSandbox> {
  const { db } = deps.rt.database;
  const row = await db.query.sandboxes.findFirst({
    where: and(eq(schema.sandboxes.sessionId, session.id), isNull(schema.sandboxes.removedAt)),
  });
  // A fresh token for every (re)start: whatever an earlier sandbox held is dead.
  const token = await issueSandboxToken(db, session.id);
  if (row?.externalId) {
    const externalId = row.externalId;
    // Locked against the idle sweeper, which may be stopping this very sandbox.
    await db.transaction(async (tx) => {
      await tx.select({ id: schema.sandboxes.id }).from(schema.sandboxes).where(eq(schema.sandboxes.id, row.id)).for("update");
      const info = await deps.sandboxes.inspect(externalId);
      if (info.state === "missing") {
        throw new AppError("sandbox_vanished", "the session's sandbox no longer exists (removed outside Tandem?)");
      }
      if (info.state === "stopped") await deps.sandboxes.start(externalId);
      await tx.update(schema.sandboxes).set({ status: "running" }).where(eq(schema.sandboxes.id, row.id));
    });
    const layout = deps.sandboxes.layout(row.externalId);
    await writeToken(deps, row.externalId, layout, token);
    return { rowId: row.id, id: row.externalId, layout, workdir: repoDir(layout, repo), token };
  }

  const [created] = await db.insert(schema.sandboxes).values({
    sessionId: session.id, orgId: session.orgId, provider: deps.sandboxes.kind, status: "creating",
  }).returning();
  const profile = await profileSandbox(deps, session);
  const id = await deps.sandboxes.create({
    name: `tandem-${session.id}`,
    image: profile.image,
    labels: {
      "tandem.org": session.orgId,
      "tandem.session": session.id,
      "tandem.profile_version": session.profileVersionId ?? "default",
    },
    env: profile.env,
    network: deps.rt.config.SANDBOX_NETWORK,
    limits: { cpus: 2, memoryBytes: 4 * 1024 ** 3, pids: 1024, ...profile.limits },
  });
  await db.update(schema.sandboxes).set({ externalId: id }).where(eq(schema.sandboxes.id, created!.id));
  await deps.sandboxes.start(id);
  const layout = deps.sandboxes.layout(id);
  await writeToken(deps, id, layout, token);
  await checkout(deps, id, layout, session, repo);
  await db.update(schema.sandboxes).set({ status: "running" }).where(eq(schema.sandboxes.id, created!.id));
  return { rowId: created!.id, id, layout, workdir: repoDir(layout, repo), token };
}

/** What the session's profile version sets: its ready snapshot's image, env and limits. */
async function profileSandbox(deps: RunnerDeps, session: Session): Promise<{ image: string; env: Record<string, string>; limits?: ProfileSpec["limits"] }> {
  if (!session.profileVersionId) return { image: deps.rt.config.SANDBOX_IMAGE, env: {} };
  const { db } = deps.rt.database;
  const version = await db.query.sandboxProfileVersions.findFirst({ where: eq(schema.sandboxProfileVersions.id, session.profileVersionId) });
  const snapshot = await readySnapshot(db, session.profileVersionId);
  if (!version || !snapshot) {
    throw new AppError("snapshot_missing", `the session's profile version ${version ? `v${version.version} ` : ""}has no ready snapshot; publish the profile again`);
  }
  const spec = storedSpec(version.spec);
  return { image: snapshot.imageRef ?? spec.image ?? deps.rt.config.SANDBOX_IMAGE, env: spec.env, limits: spec.limits };
}

export const sandboxEnv = (deps: RunnerDeps, layout: SandboxLayout) =>
  sandboxCommandEnv(sandboxControlUrl(deps.rt.config), layout);

async function writeToken(deps: RunnerDeps, id: string, layout: SandboxLayout, token: string) {
  await writeFiles(deps, id, [sandboxTokenFile(layout, token)]);
}

/** Writes several files with one exec (each exec is a round trip to the engine). */
export const writeFiles = (deps: RunnerDeps, id: string, files: SandboxFile[]) => writeSandboxFiles(deps.sandboxes, id, files);

/**
 * Checks the repository out under <workspace>/<owner>/<repo> on a new branch tandem/<id prefix>:
 * on top of the snapshot's clone when the profile version's snapshot has one (a fetch instead of
 * a clone; the setup script is not run again), cloned afresh otherwise.
 */
async function checkout(deps: RunnerDeps, id: string, layout: SandboxLayout, session: Session, repo: Repository) {
  await writeFiles(deps, id, [gitHelperFile(layout)]);
  const dir = repoDir(layout, repo);
  const branch = branchFor(session.id);
  const fromSnapshot = await snapshotHasClone(deps, session, repo);
  const steps = [
    ...gitConfigSteps(layout),
    ...(fromSnapshot ? fetchOnSnapshotSteps(dir, repo, session.baseRef, branch) : [
      ...cloneSteps(layout, repo),
      // A requested ref (branch, tag or commit) is fetched by name, so any of the three works.
      ...(session.baseRef
        ? [["git", "-C", dir, "fetch", "--quiet", "origin", session.baseRef], ["git", "-C", dir, "checkout", "--quiet", "-b", branch, "FETCH_HEAD"]]
        : [["git", "-C", dir, "checkout", "--quiet", "-b", branch]]),
    ]),
  ];
  // One exec for the whole checkout; `set -e` stops at the first failing step.
  const r = await runSandboxSteps(deps.sandboxes, id, steps, sandboxEnv(deps, layout));
  if (r.exitCode !== 0) {
    throw new AppError("checkout_failed", `checking out ${repo.name} (${session.baseRef ?? repo.defaultBranch}) failed: ${gitFailure(r.stderr)}`);
  }
  deps.rt.logger.info({ sessionId: session.id, repository: repo.name, fromSnapshot }, "sandbox.checked_out");
  await deps.rt.database.db.update(schema.sessions).set({ branch }).where(eq(schema.sessions.id, session.id));
}

/**
 * Brings the snapshot's clone up to date: the latest default branch (or the requested ref) is
 * fetched and the session branch made from it. `--force` drops what the setup script changed in
 * tracked files (a rewritten lockfile would otherwise block the checkout); untracked and ignored
 * files (installed dependencies, build output) stay. The local default branch moves too, since
 * the diff is taken against it.
 */
function fetchOnSnapshotSteps(dir: string, repo: Repository, baseRef: string | null, branch: string): string[][] {
  const git = (...args: string[]) => ["git", "-C", dir, ...args];
  return [
    git("remote", "set-url", "origin", repo.cloneUrl),
    git("fetch", "--quiet", "origin", baseRef ?? repo.defaultBranch),
    git("checkout", "--quiet", "--force", "-b", branch, "FETCH_HEAD"),
    ...(baseRef ? [git("fetch", "--quiet", "origin", repo.defaultBranch)] : []),
    git("branch", "--quiet", "--force", repo.defaultBranch, "FETCH_HEAD"),
  ];
}

/** Whether the session's snapshot was built with the repository cloned in it. */
async function snapshotHasClone(deps: RunnerDeps, session: Session, repo: Repository): Promise<boolean> {
  if (!session.profileVersionId) return false;
  const { db } = deps.rt.database;
  const version = await db.query.sandboxProfileVersions.findFirst({ where: eq(schema.sandboxProfileVersions.id, session.profileVersionId) });
  if (!version || !storedSpec(version.spec).repositories.some((r) => r.name === repo.name)) return false;
  return Boolean((await readySnapshot(db, session.profileVersionId))?.imageRef);
}
