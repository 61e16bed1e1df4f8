import { and, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { schema } from "@tandem/core";
import type { SnapshotDeps } from "./snapshots.ts";

/** The maintenance job that removes snapshot images nothing uses any more. */
export const SNAPSHOT_GC_JOB = "gc-snapshot-images";
const REPOSITORY = "tandem/snapshot";
const ORG_LABEL = "tandem.org";
const SNAPSHOT_LABEL = "tandem.snapshot";

export interface SnapshotGcResult {
  removed: string[];
  /** Images of this database's orgs that stay: in use, just replaced, or still being built. */
  kept: string[];
}

/**
 * Removes `tandem/snapshot` images no session can start from any more: not the newest ready
 * snapshot of its version, not used by a sandbox that still exists, and replaced more than
 * `graceMs` ago (a sandbox being created right now may still ask for it). Several installs can
 * share one Docker engine, so only images labelled with an org of this database are looked at.
 * A removed image's snapshot loses its imageRef and says so in its log.
 */
export async function collectSnapshotImages(
  deps: SnapshotDeps,
  opts: { graceMs: number },
): Promise<SnapshotGcResult> {
  const { db } = deps.rt.database;
  const {
    snapshots,
    sandboxProfileVersions: versions,
    sandboxProfiles: profiles,
    organizations,
    sandboxes,
  } = schema;
  const images = await deps.sandboxes.listImages({
    repository: REPOSITORY,
    labelKeys: [ORG_LABEL],
  });
  const labelled = [...new Set(images.map((i) => i.labels[ORG_LABEL]!))];
  if (labelled.length === 0) return { removed: [], kept: [] };
  const ourOrgs = new Set(
    (
      await db
        .select({ id: organizations.id })
        .from(organizations)
        .where(inArray(organizations.id, labelled.filter(isUuid)))
    ).map((o) => o.id),
  );
  const ours = images.filter((i) => ourOrgs.has(i.labels[ORG_LABEL]!));
  if (ours.length === 0) return { removed: [], kept: [] };

  const rows = await db
    .select({
      id: snapshots.id,
      versionId: snapshots.profileVersionId,
      status: snapshots.status,
      imageRef: snapshots.imageRef,
      finishedAt: snapshots.finishedAt,
    })
    .from(snapshots)
    .innerJoin(versions, eq(versions.id, snapshots.profileVersionId))
    .innerJoin(profiles, eq(profiles.id, versions.profileId))
    .where(inArray(profiles.orgId, [...ourOrgs]));
  const keep = new Set<string>();
  const building = new Set(
    rows.filter((r) => r.status === "queued" || r.status === "running").map((r) => r.id),
  );
  // Per version, newest ready first (the order readySnapshot picks in): the first is in use; each
  // later one was replaced when the one before it finished.
  const ready = rows
    .filter((r) => r.status === "ready" && r.finishedAt)
    .sort((a, b) => b.finishedAt!.getTime() - a.finishedAt!.getTime());
  const newerFinishedAt = new Map<string, Date>();
  const cutoff = deps.rt.clock.now().getTime() - opts.graceMs;
  for (const row of ready) {
    const replacedAt = newerFinishedAt.get(row.versionId);
    if (row.imageRef && (!replacedAt || replacedAt.getTime() > cutoff)) keep.add(row.imageRef);
    newerFinishedAt.set(row.versionId, row.finishedAt!);
  }
  // Images sandboxes were created from (running or stopped, persistent ones included).
  const live = await db
    .select({ externalId: sandboxes.externalId })
    .from(sandboxes)
    .where(and(isNull(sandboxes.removedAt), isNotNull(sandboxes.externalId)));
  for (const { externalId } of live) {
    const info = await deps.sandboxes.inspect(externalId!).catch(() => null);
    if (info?.image) keep.add(info.image);
  }

  const result: SnapshotGcResult = { removed: [], kept: [] };
  const log = deps.rt.logger.child({ component: "snapshot-gc" });
  for (const image of ours) {
    if (keep.has(image.ref) || building.has(image.labels[SNAPSHOT_LABEL] ?? "")) {
      result.kept.push(image.ref);
      continue;
    }
    const outcome = await deps.sandboxes.removeImage(image.ref);
    if (outcome === "in_use") {
      result.kept.push(image.ref);
      continue;
    }
    result.removed.push(image.ref);
    const ids = rows.filter((r) => r.imageRef === image.ref).map((r) => r.id);
    if (ids.length) {
      const note = `\n[${deps.rt.clock.now().toISOString()}] image ${image.ref} removed: a newer snapshot of this version replaced it\n`;
      await db
        .update(schema.snapshots)
        .set({ imageRef: null, log: sql`${snapshots.log} || ${note}` })
        .where(inArray(snapshots.id, ids));
    }
    log.info(
      { image: image.ref, orgId: image.labels[ORG_LABEL], snapshotIds: ids },
      "snapshot.image_removed",
    );
  }
  return result;
}

const isUuid = (s: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
