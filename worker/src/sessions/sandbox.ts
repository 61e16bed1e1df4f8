import { and, eq, isNull } from "drizzle-orm";
import {
  AppError,
  execCollect,
  GATEWAY_CONTROL_WAIT_STEP,
  GATEWAY_WAIT_STEP,
  gitConfigSteps,
  gitFailure,
  gitHelperFile,
  cloneSteps,
  sandboxCommandEnv,
  sandboxLimits,
  issueSandboxToken,
  openSandboxShell,
  readySnapshot,
  repositoryDir,
  runSandboxSteps,
  sandboxNetwork,
  sandboxTokenFile,
  sandboxTokenPath,
  schema,
  sessionBranch,
  sessionForSandboxToken,
  storedSpec,
  writeSandboxFiles,
  type ProfileSpec,
  type Repository,
  type SandboxFile,
  type SandboxLayout,
  type SandboxShell,
  type SandboxVolume,
  type Session,
} from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";

export interface ActiveSandbox {
  rowId: string;
  id: string;
  layout: SandboxLayout;
  workdir: string;
  token: string;
  /** The control plane as the sandbox reaches it (the model proxy's and git's base). */
  controlUrl: string;
  /** Created again on a persistent sandbox's volumes this time (the session row may have changed). */
  recreated?: boolean;
  /**
   * A new sandbox's exec opened while its checkout ran, for the first turn's launch (startTurn
   * runs it; whoever does not must close it).
   */
  launcher?: SandboxShell;
}

const repoDir = repositoryDir;

/**
 * The session's sandbox, running: created and checked out on first use, restarted when it was
 * stopped. A persistent one that is gone (removed outside Tandem, or its engine lost it) is
 * created again from the version's image on the same volumes, so its files and the agent's
 * thread are still there; an ephemeral one that is gone fails the session.
 */
export async function ensureSandbox(
  deps: RunnerDeps,
  session: Session,
  repo: Repository,
): Promise<ActiveSandbox> {
  const { db } = deps.rt.database;
  const row = await db.query.sandboxes.findFirst({
    where: and(eq(schema.sandboxes.sessionId, session.id), isNull(schema.sandboxes.removedAt)),
  });
  if (row?.externalId) {
    let id = row.externalId;
    /** Set when the container was gone and made again, from this. */
    let recreatedFrom: ProfileSandbox | undefined;
    /** Set when it was stopped and started again: its forwarder starts anew. */
    let restarted = false;
    // Read before the lock (PGlite has one connection, which the transaction holds); needed only if the sandbox is gone.
    const profile = row.persistent
      ? await profileSandbox(deps, session).catch((err: Error) => err)
      : undefined;
    // Locked against the idle sweeper, which may be stopping this very sandbox.
    await db.transaction(async (tx) => {
      await tx
        .select({ id: schema.sandboxes.id })
        .from(schema.sandboxes)
        .where(eq(schema.sandboxes.id, row.id))
        .for("update");
      const info = await deps.sandboxes.inspect(id);
      if (info.state === "missing") {
        if (!row.persistent)
          throw new AppError(
            "sandbox_vanished",
            "the session's sandbox no longer exists (removed outside Tandem?)",
          );
        if (profile instanceof Error) throw profile;
        recreatedFrom = profile!;
        id = await createContainer(deps, session, recreatedFrom, row.volumes);
        await tx
          .update(schema.sandboxes)
          .set({ externalId: id })
          .where(eq(schema.sandboxes.id, row.id));
        deps.rt.logger.info(
          { sessionId: session.id, sandbox: id, volumes: row.volumes.map((v) => v.name) },
          "sandbox.recreated",
        );
      } else if (info.state === "stopped") {
        await deps.sandboxes.start(id);
        restarted = true;
      }
      await tx
        .update(schema.sandboxes)
        .set({ status: "running" })
        .where(eq(schema.sandboxes.id, row.id));
    });
    const layout = deps.sandboxes.layout(id);
    if (restarted) {
      const ready = await runSandboxSteps(deps.sandboxes, id, [GATEWAY_WAIT_STEP], {});
      if (ready.exitCode !== 0)
        throw new AppError("sandbox_gateway_unavailable", ready.stderr.trim());
    }
    // A container that lived on (a worker died, the agent may still be running in it) keeps the
    // token it holds, so the agent's next model call still works; a new container gets a new one.
    const kept = recreatedFrom ? null : await keptToken(deps, session, id, layout);
    const token = kept ?? (await issueSandboxToken(db, session.id));
    if (!kept) await writeSandboxFiles(deps.sandboxes, id, [sandboxTokenFile(layout, token)]);
    const { controlUrl } = sandboxNetwork(
      deps.rt.config,
      recreatedFrom?.spec ?? (await versionSpec(deps, session)),
    );
    if (recreatedFrom) {
      await restoreCheckout(deps, id, layout, session, repo, recreatedFrom, controlUrl);
      await forgetLostThread(deps, session, layout, row.volumes);
    }
    return {
      rowId: row.id,
      id,
      layout,
      workdir: repoDir(layout, repo),
      token,
      controlUrl,
      recreated: recreatedFrom !== undefined,
    };
  }

  // A fresh token for a new sandbox: whatever an earlier one held is dead.
  const token = await issueSandboxToken(db, session.id);
  const profile = await profileSandbox(deps, session);
  const volumes = await persistentVolumes(deps, session, profile.spec);
  const [created] = await db
    .insert(schema.sandboxes)
    .values({
      sessionId: session.id,
      orgId: session.orgId,
      provider: deps.sandboxes.kind,
      status: "creating",
      persistent: volumes.length > 0,
      volumes,
    })
    .returning();
  const id = await createContainer(deps, session, profile, volumes, async (externalId) => {
    await db
      .update(schema.sandboxes)
      .set({ externalId })
      .where(eq(schema.sandboxes.id, created!.id));
  });
  const layout = deps.sandboxes.layout(id);
  const { controlUrl } = sandboxNetwork(deps.rt.config, profile.spec);
  const launcher = openSandboxShell(deps.sandboxes, id);
  try {
    await checkout(deps, id, layout, session, repo, profile, controlUrl, [
      sandboxTokenFile(layout, token),
    ]);
    await db
      .update(schema.sandboxes)
      .set({ status: "running" })
      .where(eq(schema.sandboxes.id, created!.id));
  } catch (err) {
    launcher.close();
    throw err;
  }
  return {
    rowId: created!.id,
    id,
    layout,
    workdir: repoDir(layout, repo),
    token,
    controlUrl,
    launcher,
  };
}

/** Creates and starts the session's container; `created` records its id before it starts. */
async function createContainer(
  deps: RunnerDeps,
  session: Session,
  profile: ProfileSandbox,
  volumes: SandboxVolume[],
  created: (id: string) => Promise<void> = async () => {},
): Promise<string> {
  const spec = profile.spec;
  const network = sandboxNetwork(deps.rt.config, spec);
  const id = await deps.sandboxes.create({
    name: `tandem-${session.id}`,
    image: profile.image,
    labels: {
      "tandem.org": session.orgId,
      "tandem.session": session.id,
      "tandem.profile_version": session.profileVersionId ?? "default",
    },
    env: { ...spec?.env, ...network.env },
    network: network.mode,
    gatewaySource: network.gatewaySource,
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
async function persistentVolumes(
  deps: RunnerDeps,
  session: Session,
  spec: ProfileSpec | undefined,
): Promise<SandboxVolume[]> {
  if (!spec?.persistent?.enabled) return [];
  const settings = await deps.rt.database.db.query.orgSettings.findFirst({
    where: eq(schema.orgSettings.orgId, session.orgId),
  });
  if (!settings?.allowPersistentSandboxes) return [];
  if (!deps.sandboxes.supportsVolumes) {
    deps.rt.logger.warn(
      { sessionId: session.id, provider: deps.sandboxes.kind },
      "sandbox.persistence_unsupported: this provider has no volumes; the sandbox is ephemeral",
    );
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
async function forgetLostThread(
  deps: RunnerDeps,
  session: Session,
  layout: SandboxLayout,
  volumes: SandboxVolume[],
) {
  const kept = volumes.some((v) => `${layout.state}/`.startsWith(`${v.path.replace(/\/+$/, "")}/`));
  if (kept || !session.agentThreadId) return;
  await deps.rt.database.db
    .update(schema.sessions)
    .set({ agentThreadId: null })
    .where(eq(schema.sessions.id, session.id));
  deps.rt.logger.info(
    { sessionId: session.id, thread: session.agentThreadId },
    "sandbox.agent_thread_lost",
  );
}

/** `tandem-<session id>-<n>`: the whole id, since volumes of different sessions must never meet. */
const volumeName = (sessionId: string, n: number) => `tandem-${sessionId}-${n}`;

interface ProfileSandbox {
  image: string;
  /** Absent for sessions from before profiles. */
  spec?: ProfileSpec;
  /** The repositories the image holds a clone of (a snapshot built with them): sessions fetch on top. */
  cloned: string[];
}

/** What the session's profile version sets: its ready snapshot's image (and the clones in it), and its spec. */
async function profileSandbox(deps: RunnerDeps, session: Session): Promise<ProfileSandbox> {
  if (!session.profileVersionId) return { image: deps.rt.config.SANDBOX_IMAGE, cloned: [] };
  const { db } = deps.rt.database;
  const version = await db.query.sandboxProfileVersions.findFirst({
    where: eq(schema.sandboxProfileVersions.id, session.profileVersionId),
  });
  const snapshot = await readySnapshot(db, session.profileVersionId);
  if (!version || !snapshot) {
    throw new AppError(
      "snapshot_missing",
      `the session's profile version ${version ? `v${version.version} ` : ""}has no ready snapshot; publish the profile again`,
    );
  }
  const spec = storedSpec(version.spec);
  // A snapshot with no image of its own needed no build, so it holds no clones.
  const cloned = snapshot.imageRef ? spec.repositories.map((r) => r.name) : [];
  return { image: snapshot.imageRef ?? spec.image ?? deps.rt.config.SANDBOX_IMAGE, spec, cloned };
}

/** The spec of the session's profile version (none for sessions from before profiles). */
async function versionSpec(deps: RunnerDeps, session: Session): Promise<ProfileSpec | undefined> {
  if (!session.profileVersionId) return undefined;
  const version = await deps.rt.database.db.query.sandboxProfileVersions.findFirst({
    where: eq(schema.sandboxProfileVersions.id, session.profileVersionId),
  });
  return version ? storedSpec(version.spec) : undefined;
}

/**
 * The token in the container's token file, when it is this session's current one. The file is
 * the sandbox's to write, so only a token whose hash the session row holds is taken back.
 */
async function keptToken(
  deps: RunnerDeps,
  session: Session,
  id: string,
  layout: SandboxLayout,
): Promise<string | null> {
  const r = await execCollect(deps.sandboxes, id, ["cat", sandboxTokenPath(layout)]);
  const token = r.exitCode === 0 ? r.stdout.trim() : "";
  if (!token) return null;
  const owner = await sessionForSandboxToken(deps.rt.database.db, token);
  return owner?.id === session.id ? token : null;
}

/**
 * Checks the repository out under <workspace>/<owner>/<repo> on a new branch tandem/<id prefix>:
 * on top of the snapshot's clone when the profile version's snapshot has one (a fetch instead of
 * a clone; the setup script is not run again), cloned afresh otherwise.
 */
async function checkout(
  deps: RunnerDeps,
  id: string,
  layout: SandboxLayout,
  session: Session,
  repo: Repository,
  profile: ProfileSandbox,
  controlUrl: string,
  files: SandboxFile[] = [],
) {
  const dir = repoDir(layout, repo);
  const branch = sessionBranch(session.id);
  const fromSnapshot = profile.cloned.includes(repo.name);
  const steps = [
    ...gitConfigSteps(layout, controlUrl, [repo]),
    // The proxy is waited for when the agent is launched (startTurn): nothing here needs it.
    GATEWAY_CONTROL_WAIT_STEP,
    ...(fromSnapshot
      ? fetchOnSnapshotSteps(dir, repo, session.baseRef, branch)
      : [
          ...cloneSteps(layout, repo),
          // A requested ref (branch, tag or commit) is fetched by name, so any of the three works.
          ...(session.baseRef
            ? [
                ["git", "-C", dir, "fetch", "--quiet", "origin", session.baseRef],
                ["git", "-C", dir, "checkout", "--quiet", "-b", branch, "FETCH_HEAD"],
              ]
            : [["git", "-C", dir, "checkout", "--quiet", "-b", branch]]),
        ]),
  ];
  // One exec for the whole checkout, the credential helper (and the caller's files) written first; `set -e` stops at the first failing step.
  const r = await runSandboxSteps(deps.sandboxes, id, steps, sandboxCommandEnv(layout), [
    ...files,
    gitHelperFile(layout),
  ]);
  if (r.exitCode !== 0) {
    throw new AppError(
      "checkout_failed",
      `checking out ${repo.name} (${session.baseRef ?? repo.defaultBranch}) failed: ${gitFailure(r.stderr)}`,
    );
  }
  deps.rt.logger.info(
    { sessionId: session.id, repository: repo.name, fromSnapshot },
    "sandbox.checked_out",
  );
  await deps.rt.database.db
    .update(schema.sessions)
    .set({ branch })
    .where(eq(schema.sessions.id, session.id));
}

/**
 * Brings the snapshot's clone up to date: the latest default branch (or the requested ref) is
 * fetched and the session branch made from it. `--force` drops what the setup script changed in
 * tracked files (a rewritten lockfile would otherwise block the checkout); untracked and ignored
 * files (installed dependencies, build output) stay, kept out of the work by the exclude block
 * the build wrote (excludeSetupFiles). The local default branch moves too, since
 * the diff is taken against it.
 */
function fetchOnSnapshotSteps(
  dir: string,
  repo: Repository,
  baseRef: string | null,
  branch: string,
): string[][] {
  const git = (...args: string[]) => ["git", "-C", dir, ...args];
  return [
    git("remote", "set-url", "origin", repo.cloneUrl),
    git("fetch", "--quiet", "origin", baseRef ?? repo.defaultBranch),
    git("checkout", "--quiet", "--force", "-b", branch, "FETCH_HEAD"),
    ...(baseRef ? [git("fetch", "--quiet", "origin", repo.defaultBranch)] : []),
    git("branch", "--quiet", "--force", repo.defaultBranch, "FETCH_HEAD"),
  ];
}

/**
 * After a persistent sandbox was created again: the credential helper and git's configuration
 * are written anew (the paths that held them may not be persistent), and the repository is
 * checked out only when the workspace did not persist; a persisted checkout (one with the
 * session's branch: a snapshot's image holds a clone without it) is left as it is.
 */
async function restoreCheckout(
  deps: RunnerDeps,
  id: string,
  layout: SandboxLayout,
  session: Session,
  repo: Repository,
  profile: ProfileSandbox,
  controlUrl: string,
) {
  const dir = repoDir(layout, repo);
  const persisted = await execCollect(deps.sandboxes, id, [
    "git",
    "-C",
    dir,
    "rev-parse",
    "--quiet",
    "--verify",
    `refs/heads/${sessionBranch(session.id)}`,
  ]);
  if (persisted.exitCode !== 0)
    return checkout(deps, id, layout, session, repo, profile, controlUrl);
  const r = await runSandboxSteps(
    deps.sandboxes,
    id,
    [...gitConfigSteps(layout, controlUrl, [repo]), GATEWAY_WAIT_STEP],
    sandboxCommandEnv(layout),
    [gitHelperFile(layout)],
  );
  if (r.exitCode !== 0)
    throw new AppError(
      "sandbox_restore_failed",
      `configuring git in the recreated sandbox failed: ${r.stderr.trim()}`,
    );
}
