import { and, count, eq, inArray } from "drizzle-orm";
import {
  excludeSetupFiles,
  findRepositoriesByName,
  removeSandboxToken,
  repositoryDir,
  requestSnapshot,
  runSetupScript,
  schema,
  setupSandboxSpec,
  storedSpec,
  unknownRepositoriesMessage,
  type Runtime,
  type SandboxProvider,
} from "@tandem/core";

export interface SnapshotDeps {
  rt: Runtime;
  sandboxes: SandboxProvider;
}

/** Enough of the setup log to see why it failed; the end matters most. */
const MAX_LOG_CHARS = 64_000;
const tail = (log: string) =>
  log.length > MAX_LOG_CHARS ? `[…]\n${log.slice(-MAX_LOG_CHARS)}` : log;

const snapshotImageName = (versionId: string, n: number) =>
  `tandem/snapshot:${versionId.slice(0, 8)}-${n}`;

/**
 * Builds a profile version's snapshot: a one-off sandbox from the version's image clones the
 * version's repositories (with a build token the git credential route accepts for them only),
 * runs the setup script in the workspace, and its filesystem, without the token, becomes the
 * image sessions on the version start from. A failure is recorded on the snapshot (with the
 * log); earlier ready snapshots stay in use.
 */
export async function buildSnapshot(deps: SnapshotDeps, snapshotId: string): Promise<void> {
  const { db } = deps.rt.database;
  // Queued, or running when a worker died mid-build and BullMQ handed the job to another one.
  const [claimed] = await db
    .update(schema.snapshots)
    .set({ status: "running", log: "" })
    .where(
      and(
        eq(schema.snapshots.id, snapshotId),
        inArray(schema.snapshots.status, ["queued", "running"]),
      ),
    )
    .returning();
  if (!claimed) return;
  const version = (await db.query.sandboxProfileVersions.findFirst({
    where: eq(schema.sandboxProfileVersions.id, claimed.profileVersionId),
  }))!;
  const profile = (await db.query.sandboxProfiles.findFirst({
    where: eq(schema.sandboxProfiles.id, version.profileId),
  }))!;
  const log = deps.rt.logger.child({
    snapshotId,
    orgId: profile.orgId,
    profileVersionId: version.id,
  });
  const spec = storedSpec(version.spec);
  const [ordinal] = await db
    .select({ n: count() })
    .from(schema.snapshots)
    .where(eq(schema.snapshots.profileVersionId, version.id));
  const finish = (values: { status: "ready" | "failed"; log: string; imageRef?: string }) =>
    db
      .update(schema.snapshots)
      .set({ ...values, log: tail(values.log), finishedAt: deps.rt.clock.now() })
      .where(eq(schema.snapshots.id, snapshotId));

  // Checked when the draft was saved, but a repository may have been removed since.
  const { repositories, unknown } = await findRepositoriesByName(
    db,
    profile.orgId,
    spec.repositories.map((r) => r.name),
  );
  if (unknown.length) {
    const message = `the snapshot could not be built: ${unknownRepositoriesMessage(unknown)}`;
    log.warn({ unknown }, "snapshot.unknown_repositories");
    return void (await finish({ status: "failed", log: `${message}\n` }));
  }

  const [row] = await db
    .insert(schema.sandboxes)
    .values({
      orgId: profile.orgId,
      provider: deps.sandboxes.kind,
      status: "creating",
    })
    .returning();
  let sandboxId: string | undefined;
  let result: { status: "ready" | "failed"; log: string; imageRef?: string };
  // Written to the row as it grows, so the workbench (and the API) can follow a running build.
  const output = liveLog((text) =>
    db
      .update(schema.snapshots)
      .set({ log: tail(text) })
      .where(and(eq(schema.snapshots.id, snapshotId), eq(schema.snapshots.status, "running"))),
  );
  try {
    const sandboxSpec = setupSandboxSpec(deps.rt.config, spec, `tandem-snapshot-${snapshotId}`, {
      "tandem.org": profile.orgId,
      "tandem.profile_version": version.id,
      "tandem.snapshot": snapshotId,
    });
    sandboxId = await deps.sandboxes.create(sandboxSpec);
    await db
      .update(schema.sandboxes)
      .set({ externalId: sandboxId })
      .where(eq(schema.sandboxes.id, row!.id));
    await deps.sandboxes.start(sandboxId);
    log.info(
      {
        image: spec.image ?? deps.rt.config.SANDBOX_IMAGE,
        repositories: repositories.map((r) => r.name),
      },
      "snapshot.started",
    );
    // One stream for the clones and both outputs, in the order they arrived, as a terminal would show them.
    const { exitCode } = await runSetupScript(
      { db, clock: deps.rt.clock, logger: log, sandboxes: deps.sandboxes },
      {
        sandboxId,
        orgId: profile.orgId,
        spec,
        repositories,
        controlUrl: sandboxSpec.controlUrl,
        purpose: "snapshot",
        label: `profile ${profile.name} v${version.version}`,
      },
      (chunk) => output.push(chunk),
    );
    if (exitCode !== 0) {
      result = {
        status: "failed",
        log: `${output.text()}\nsetup script exited with ${exitCode}\n`,
      };
      log.warn({ exitCode }, "snapshot.failed");
    } else {
      // What the script left in the clones is the environment, not a session's work (Changes, `git add -A`).
      for (const repo of repositories) {
        const dir = repositoryDir(deps.sandboxes.layout(sandboxId), repo);
        const excluded = await excludeSetupFiles(deps.sandboxes, sandboxId, dir);
        if (excluded.length) output.push(Buffer.from(setupFilesLine(repo.name, excluded)));
        log.info({ repository: repo.name, excluded: excluded.length }, "snapshot.setup_files");
      }
      const text = output.text();
      // The token dies with the build, but even a dead credential does not belong in an image.
      await removeSandboxToken(deps.sandboxes, sandboxId, deps.sandboxes.layout(sandboxId));
      // Labelled with its org and snapshot: image GC only ever looks at its own orgs' images.
      const imageRef = await deps.sandboxes.commit(
        sandboxId,
        snapshotImageName(version.id, ordinal?.n ?? 1),
        {
          labels: { "tandem.org": profile.orgId, "tandem.snapshot": snapshotId },
        },
      );
      result = { status: "ready", log: text, imageRef };
      log.info({ imageRef }, "snapshot.ready");
    }
  } catch (err) {
    log.warn({ err }, "snapshot.failed");
    const text = output.text();
    result = {
      status: "failed",
      log: `${text}\nthe snapshot could not be built: ${(err as Error).message}\n`,
    };
  } finally {
    await output.close();
    if (sandboxId)
      await deps.sandboxes
        .remove(sandboxId)
        .catch((err) => log.warn({ err }, "snapshot.remove_failed"));
    await db
      .update(schema.sandboxes)
      .set({ status: "removed", removedAt: deps.rt.clock.now() })
      .where(eq(schema.sandboxes.id, row!.id));
  }
  // Announced only once the build sandbox is gone, so "ready" or "failed" leaves nothing behind.
  await finish(result);
}

/** The build log's line for the files the setup script created in a clone (the first 20 named). */
function setupFilesLine(repository: string, paths: string[]): string {
  const named = paths.slice(0, 20).join(", ");
  const more = paths.length > 20 ? ` and ${paths.length - 20} more` : "";
  return `not counted as sessions' changes in ${repository} (created by the setup script, listed in .git/info/exclude): ${named}${more}\n`;
}

/** Collects a build's output and hands the whole of it to `write` at most once per `everyMs` while it grows. */
function liveLog(write: (text: string) => Promise<unknown>, everyMs = 1000) {
  const chunks: Buffer[] = [];
  let size = 0;
  let written = 0;
  let pending: Promise<unknown> = Promise.resolve();
  const text = () => Buffer.concat(chunks).toString("utf8");
  const timer = setInterval(() => {
    if (size === written) return;
    written = size;
    const snapshot = text();
    pending = pending.then(() => write(snapshot)).catch(() => {});
  }, everyMs);
  return {
    push(chunk: Buffer) {
      chunks.push(chunk);
      size += chunk.length;
    },
    text,
    /** Stops writing; resolves once the last write is done, so nothing lands after the final log. */
    async close() {
      clearInterval(timer);
      await pending;
    },
  };
}

/**
 * Re-requests snapshots that are committed as queued but may have no job (Redis was away when
 * they were published). The job id is the version's, so a job still waiting is not duplicated.
 */
export async function sweepSnapshots(deps: SnapshotDeps): Promise<void> {
  const queued = await deps.rt.database.db
    .select({ id: schema.snapshots.id, profileVersionId: schema.snapshots.profileVersionId })
    .from(schema.snapshots)
    .where(eq(schema.snapshots.status, "queued"))
    .limit(100);
  for (const snapshot of queued) await requestSnapshot(deps.rt, snapshot);
}
