import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { snapshots } from "../db/schema.ts";
import type { Logger } from "../logger.ts";
import { enqueueWithin, type Queues } from "../queue/queues.ts";

export type Snapshot = typeof snapshots.$inferSelect;

export const snapshotView = (s: Snapshot | undefined) =>
  s
    ? {
        id: s.id,
        status: s.status,
        trigger: s.trigger,
        imageRef: s.imageRef,
        createdAt: s.createdAt.toISOString(),
        finishedAt: s.finishedAt?.toISOString() ?? null,
        log: s.log,
      }
    : null;

/**
 * By version id, each version's newest snapshot (`latest`) and its newest ready one (`ready`, by
 * when it finished: the one sessions on the version start from; a refresh still running, or
 * failed, leaves it in use). One read of the versions' snapshots serves both.
 */
export async function versionSnapshots(
  db: Db,
  versionIds: string[],
): Promise<{ latest: Map<string, Snapshot>; ready: Map<string, Snapshot> }> {
  const latest = new Map<string, Snapshot>();
  const ready = new Map<string, Snapshot>();
  if (versionIds.length === 0) return { latest, ready };
  const rows = await db
    .select()
    .from(snapshots)
    .where(inArray(snapshots.profileVersionId, versionIds))
    .orderBy(desc(snapshots.createdAt));
  // As readySnapshot orders them: finished last first, an unset finish first of all (SQL's NULLS FIRST), then newest.
  const finished = (s: Snapshot) => s.finishedAt?.getTime() ?? Infinity;
  for (const row of rows) {
    if (!latest.has(row.profileVersionId)) latest.set(row.profileVersionId, row);
    const best = ready.get(row.profileVersionId);
    if (row.status === "ready" && (!best || finished(row) > finished(best)))
      ready.set(row.profileVersionId, row);
  }
  return { latest, ready };
}

/** A version's snapshots, newest first (at most `limit`). */
export async function listSnapshots(db: Db, versionId: string, limit = 100): Promise<Snapshot[]> {
  return db
    .select()
    .from(snapshots)
    .where(eq(snapshots.profileVersionId, versionId))
    .orderBy(desc(snapshots.createdAt))
    .limit(limit);
}

/**
 * The version's newest ready snapshot, if it has one. Its imageRef is null when the version
 * needed no build: sessions then start from the version's image as it is.
 */
export async function readySnapshot(
  db: Db,
  versionId: string,
): Promise<Pick<Snapshot, "id" | "imageRef"> | undefined> {
  const [row] = await db
    .select({ id: snapshots.id, imageRef: snapshots.imageRef })
    .from(snapshots)
    .where(and(eq(snapshots.profileVersionId, versionId), eq(snapshots.status, "ready")))
    .orderBy(desc(snapshots.finishedAt), desc(snapshots.createdAt))
    .limit(1);
  return row;
}

/**
 * Asks a worker to build the snapshot. One job per version at a time (the job id is the version's),
 * so asking again while it is queued or running is a no-op. The row is committed first: a failed
 * enqueue leaves it queued, and publishing again enqueues it again.
 */
export async function requestSnapshot(
  deps: { queues: Queues; logger: Logger },
  snapshot: Pick<Snapshot, "id" | "profileVersionId">,
) {
  await enqueueWithin(
    deps.queues.snapshots,
    "snapshot",
    { snapshotId: snapshot.id },
    `snapshot-${snapshot.profileVersionId}`,
    { removeWhenDone: true },
  ).catch((err) => deps.logger.warn({ err, snapshotId: snapshot.id }, "snapshot.enqueue_failed"));
}
