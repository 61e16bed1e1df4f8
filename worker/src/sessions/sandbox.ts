import { and, eq, isNull } from "drizzle-orm";
import {
  AppError, execCollect, sandboxCommandEnv, shellQuote, issueSandboxToken, readySnapshot, sandboxControlUrl, schema, storedSpec,
  type ProfileSpec, type Repository, type SandboxLayout, type Session,
} from "@tandem/core";
import { GIT_CREDENTIAL_HELPER_SCRIPT, gitCredentialConfig } from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";

export interface ActiveSandbox {
  rowId: string;
  id: string;
  layout: SandboxLayout;
  workdir: string;
  token: string;
}

export const branchFor = (sessionId: string) => `tandem/${sessionId.slice(0, 8)}`;
export const repoDir = (layout: SandboxLayout, repo: Pick<Repository, "name">) => `${layout.workspace}/${repo.name}`;

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
  const helper = `${layout.state}/git-credential-tandem`;
  await writeFiles(deps, id, [{ path: helper, content: GIT_CREDENTIAL_HELPER_SCRIPT, mode: 0o755 }]);
  const dir = repoDir(layout, repo);
  const steps = [
    ...gitCredentialConfig(helper),
    ["git", "config", "--global", "user.name", "Tandem"],
    ["git", "config", "--global", "user.email", "tandem@users.noreply.localhost"],
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
