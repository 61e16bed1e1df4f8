import { and, eq, isNull } from "drizzle-orm";
import {
  AppError, execCollect, sandboxCommandEnv, sandboxLimits, shellQuote, issueSandboxToken, readySnapshot, sandboxControlUrl, schema, storedSpec,
  type ProfileSpec, type Repository, type SandboxLayout, type SandboxVolume, type Session,
} from "@tandem/core";
import { GIT_CREDENTIAL_HELPER_SCRIPT, gitCredentialConfig } from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";

export interface ActiveSandbox {
  rowId: string;
  id: string;
  layout: SandboxLayout;
  workdir: string;
  token: string;
  /** Created again on a persistent sandbox's volumes this time (the session row may have changed). */
  recreated?: boolean;
}

export const branchFor = (sessionId: string) => `tandem/${sessionId.slice(0, 8)}`;
export const repoDir = (layout: SandboxLayout, repo: Pick<Repository, "name">) => `${layout.workspace}/${repo.name}`;

/**
 * The session's sandbox, running: created and checked out on first use, restarted when it was
 * stopped. A persistent one that is gone (removed outside Tandem, or its engine lost it) is
 * created again from the version's image on the same volumes, so its files and the agent's
 * thread are still there; an ephemeral one that is gone fails the session.
 */
export async function ensureSandbox(deps: RunnerDeps, session: Session, repo: Repository): Promise<ActiveSandbox> {
  const { db } = deps.rt.database;
  const row = await db.query.sandboxes.findFirst({
    where: and(eq(schema.sandboxes.sessionId, session.id), isNull(schema.sandboxes.removedAt)),
  });
  // A fresh token for every (re)start: whatever an earlier sandbox held is dead.
  const token = await issueSandboxToken(db, session.id);
  if (row?.externalId) {
    let id = row.externalId;
    let recreated = false;
    // Read before the lock (PGlite has one connection, which the transaction holds); needed only if the sandbox is gone.
    const profile = row.persistent ? await profileSandbox(deps, session).catch((err: Error) => err) : undefined;
    // Locked against the idle sweeper, which may be stopping this very sandbox.
    await db.transaction(async (tx) => {
      await tx.select({ id: schema.sandboxes.id }).from(schema.sandboxes).where(eq(schema.sandboxes.id, row.id)).for("update");
      const info = await deps.sandboxes.inspect(id);
      if (info.state === "missing") {
        if (!row.persistent) throw new AppError("sandbox_vanished", "the session's sandbox no longer exists (removed outside Tandem?)");
        if (profile instanceof Error) throw profile;
        id = await createContainer(deps, session, profile!, row.volumes);
        recreated = true;
        await tx.update(schema.sandboxes).set({ externalId: id }).where(eq(schema.sandboxes.id, row.id));
        deps.rt.logger.info({ sessionId: session.id, sandbox: id, volumes: row.volumes.map((v) => v.name) }, "sandbox.recreated");
      } else if (info.state === "stopped") {
        await deps.sandboxes.start(id);
      }
      await tx.update(schema.sandboxes).set({ status: "running" }).where(eq(schema.sandboxes.id, row.id));
    });
    const layout = deps.sandboxes.layout(id);
    await writeToken(deps, id, layout, token);
    if (recreated) {
      await restoreCheckout(deps, id, layout, session, repo);
      await forgetLostThread(deps, session, layout, row.volumes);
    }
    return { rowId: row.id, id, layout, workdir: repoDir(layout, repo), token, recreated };
  }

  const profile = await profileSandbox(deps, session);
  const volumes = await persistentVolumes(deps, session, profile.spec);
  const [created] = await db.insert(schema.sandboxes).values({
    sessionId: session.id, orgId: session.orgId, provider: deps.sandboxes.kind, status: "creating",
    persistent: volumes.length > 0, volumes,
  }).returning();
  const id = await createContainer(deps, session, profile, volumes, async (externalId) => {
    await db.update(schema.sandboxes).set({ externalId }).where(eq(schema.sandboxes.id, created!.id));
  });
  const layout = deps.sandboxes.layout(id);
  await writeToken(deps, id, layout, token);
  await checkout(deps, id, layout, session, repo);
  await db.update(schema.sandboxes).set({ status: "running" }).where(eq(schema.sandboxes.id, created!.id));
  return { rowId: created!.id, id, layout, workdir: repoDir(layout, repo), token };
}

/** Creates and starts the session's container; `created` records its id before it starts. */
async function createContainer(
  deps: RunnerDeps, session: Session, profile: ProfileSandbox, volumes: SandboxVolume[],
  created: (id: string) => Promise<void> = async () => {},
): Promise<string> {
  const spec = profile.spec;
  const id = await deps.sandboxes.create({
    name: `tandem-${session.id}`,
    image: profile.image,
    labels: {
      "tandem.org": session.orgId,
      "tandem.session": session.id,
      "tandem.profile_version": session.profileVersionId ?? "default",
    },
    env: spec?.env ?? {},
    network: spec?.network ?? deps.rt.config.SANDBOX_NETWORK,
    limits: sandboxLimits(spec?.limits),
    volumes,
  });
  try {
    await created(id);
    await deps.sandboxes.start(id);
  } catch (err) {
    // Not left behind under the session's name, where it would block the next attempt.
    await deps.sandboxes.remove(id).catch(() => {});
    throw err;
  }
  return id;
}

/**
 * The named volumes of a persistent sandbox: one per path of the version's `persistent.paths`
 * (the workspace and the agent's home, which holds its config and Tandem's state, by default).
 * None, so the sandbox is ephemeral, unless the org allows persistent sandboxes and the version
 * opts in; the local provider has no volumes and runs every session ephemeral (with a warning).
 */
async function persistentVolumes(deps: RunnerDeps, session: Session, spec: ProfileSpec | undefined): Promise<SandboxVolume[]> {
  if (!spec?.persistent?.enabled) return [];
  const settings = await deps.rt.database.db.query.orgSettings.findFirst({ where: eq(schema.orgSettings.orgId, session.orgId) });
  if (!settings?.allowPersistentSandboxes) return [];
  if (!deps.sandboxes.supportsVolumes) {
    deps.rt.logger.warn({ sessionId: session.id, provider: deps.sandboxes.kind }, "sandbox.persistence_unsupported: this provider has no volumes; the sandbox is ephemeral");
    return [];
  }
  const layout = deps.sandboxes.layout(`tandem-${session.id}`);
  const paths = spec.persistent.paths ?? [layout.workspace, layout.home];
  return paths.map((path, i) => ({ name: volumeName(session.id, i + 1), path }));
}

/**
 * The agent keeps its conversation under Tandem's state dir; when no volume holds that, the
 * recreated sandbox has lost it, and the next turn starts a new thread instead of resuming one
 * that is not there.
 */
async function forgetLostThread(deps: RunnerDeps, session: Session, layout: SandboxLayout, volumes: SandboxVolume[]) {
  const kept = volumes.some((v) => `${layout.state}/`.startsWith(`${v.path.replace(/\/+$/, "")}/`));
  if (kept || !session.agentThreadId) return;
  await deps.rt.database.db.update(schema.sessions).set({ agentThreadId: null }).where(eq(schema.sessions.id, session.id));
  deps.rt.logger.info({ sessionId: session.id, thread: session.agentThreadId }, "sandbox.agent_thread_lost");
}

/** `tandem-<session id>-<n>`: the whole id, since volumes of different sessions must never meet. */
export const volumeName = (sessionId: string, n: number) => `tandem-${sessionId}-${n}`;

interface ProfileSandbox {
  image: string;
  /** Absent for sessions from before profiles. */
  spec?: ProfileSpec;
}

/** What the session's profile version sets: its ready snapshot's image, and its spec. */
async function profileSandbox(deps: RunnerDeps, session: Session): Promise<ProfileSandbox> {
  if (!session.profileVersionId) return { image: deps.rt.config.SANDBOX_IMAGE };
  const { db } = deps.rt.database;
  const version = await db.query.sandboxProfileVersions.findFirst({ where: eq(schema.sandboxProfileVersions.id, session.profileVersionId) });
  const snapshot = await readySnapshot(db, session.profileVersionId);
  if (!version || !snapshot) {
    throw new AppError("snapshot_missing", `the session's profile version ${version ? `v${version.version} ` : ""}has no ready snapshot; publish the profile again`);
  }
  const spec = storedSpec(version.spec);
  return { image: snapshot.imageRef ?? spec.image ?? deps.rt.config.SANDBOX_IMAGE, spec };
}

export const sandboxEnv = (deps: RunnerDeps, layout: SandboxLayout) =>
  sandboxCommandEnv(sandboxControlUrl(deps.rt.config), layout);

async function writeToken(deps: RunnerDeps, id: string, layout: SandboxLayout, token: string) {
  await writeFiles(deps, id, [{ path: `${layout.state}/token`, content: token, mode: 0o600 }]);
}


/** Writes several files with one exec (each exec is a round trip to the engine). */
export async function writeFiles(deps: RunnerDeps, id: string, files: Array<{ path: string; content: string; mode?: number }>) {
  if (files.length === 0) return;
  const script = files.map(({ path, content, mode = 0o644 }) => {
    const dir = path.slice(0, path.lastIndexOf("/"));
    return `mkdir -p ${shellQuote(dir)} && printf %s ${shellQuote(Buffer.from(content).toString("base64"))} | base64 -d > ${shellQuote(path)}`
      + ` && chmod ${mode.toString(8)} ${shellQuote(path)}`;
  }).join(" && ");
  const r = await execCollect(deps.sandboxes, id, ["sh", "-c", script]);
  if (r.exitCode !== 0) {
    throw new AppError("sandbox_write_failed", `could not write ${files.map((f) => f.path).join(", ")} in the sandbox: ${r.stderr.trim()}`);
  }
}

/** Clones the repository under <workspace>/<owner>/<repo> on a new branch tandem/<id prefix>. */
async function checkout(deps: RunnerDeps, id: string, layout: SandboxLayout, session: Session, repo: Repository) {
  const dir = repoDir(layout, repo);
  const steps = [
    ...await gitSetup(deps, id, layout),
    ["git", "clone", "--quiet", "--branch", repo.defaultBranch, "--", repo.cloneUrl, dir],
    // A requested ref (branch, tag or commit) is fetched by name, so any of the three works.
    ...(session.baseRef
      ? [["git", "-C", dir, "fetch", "--quiet", "origin", session.baseRef], ["git", "-C", dir, "checkout", "--quiet", "-b", branchFor(session.id), "FETCH_HEAD"]]
      : [["git", "-C", dir, "checkout", "--quiet", "-b", branchFor(session.id)]]),
  ];
  // One exec for the whole checkout; `set -e` stops at the first failing step.
  const r = await execCollect(deps.sandboxes, id, ["sh", "-ec", steps.map((argv) => argv.map(shellQuote).join(" ")).join("\n")], {
    env: sandboxEnv(deps, layout),
  });
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split("\n").slice(-3).join(" ");
    throw new AppError("checkout_failed", `checking out ${repo.name} (${session.baseRef ?? repo.defaultBranch}) failed: ${why}`);
  }
  await deps.rt.database.db.update(schema.sessions).set({ branch: branchFor(session.id) }).where(eq(schema.sessions.id, session.id));
}

/** Writes the git credential helper and returns the steps that configure git to use it. */
async function gitSetup(deps: RunnerDeps, id: string, layout: SandboxLayout): Promise<string[][]> {
  const helper = `${layout.state}/git-credential-tandem`;
  await writeFiles(deps, id, [{ path: helper, content: GIT_CREDENTIAL_HELPER_SCRIPT, mode: 0o755 }]);
  return [
    ...gitCredentialConfig(helper),
    ["git", "config", "--global", "user.name", "Tandem"],
    ["git", "config", "--global", "user.email", "tandem@users.noreply.localhost"],
  ];
}

/**
 * After a persistent sandbox was created again: the credential helper and git's configuration
 * are written anew (the paths that held them may not be persistent), and the repository is
 * checked out only when the workspace did not persist; a persisted checkout is left as it is.
 */
async function restoreCheckout(deps: RunnerDeps, id: string, layout: SandboxLayout, session: Session, repo: Repository) {
  const dir = repoDir(layout, repo);
  if ((await execCollect(deps.sandboxes, id, ["test", "-d", `${dir}/.git`])).exitCode !== 0) {
    return checkout(deps, id, layout, session, repo);
  }
  const steps = await gitSetup(deps, id, layout);
  const r = await execCollect(deps.sandboxes, id, ["sh", "-ec", steps.map((argv) => argv.map(shellQuote).join(" ")).join("\n")], {
    env: sandboxEnv(deps, layout),
  });
  if (r.exitCode !== 0) throw new AppError("sandbox_restore_failed", `configuring git in the recreated sandbox failed: ${r.stderr.trim()}`);
}
