import { and, asc, desc, eq, max } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { sandboxProfiles, sandboxProfileVersions, snapshots } from "../db/schema.ts";
import { conflict, notFound } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Queues } from "../queue/queues.ts";
import { latestSnapshots, requestSnapshot, snapshotView, type Snapshot } from "./snapshots.ts";
import { profileSpec, sameSpec, storedSpec, type ProfileSpec } from "./spec.ts";

export type ProfileVersion = typeof sandboxProfileVersions.$inferSelect;

export interface ProfileDeps {
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
}

/** The org's profiles that can start sessions: those with a published version (the newest counts). */
export async function listPublishedProfiles(db: Db, orgId: string): Promise<Array<{ name: string; version: number }>> {
  return db
    .select({ name: sandboxProfiles.name, version: max(sandboxProfileVersions.version).mapWith(Number) })
    .from(sandboxProfiles)
    .innerJoin(sandboxProfileVersions, and(
      eq(sandboxProfileVersions.profileId, sandboxProfiles.id), eq(sandboxProfileVersions.status, "published"),
    ))
    .where(eq(sandboxProfiles.orgId, orgId))
    .groupBy(sandboxProfiles.name)
    .orderBy(asc(sandboxProfiles.name)) as Promise<Array<{ name: string; version: number }>>;
}

/** A new profile starts with an empty draft, version 1. */
export async function createProfile(db: Db, orgId: string, name: string) {
  return db.transaction(async (tx) => {
    const [profile] = await tx.insert(sandboxProfiles).values({ orgId, name }).onConflictDoNothing().returning();
    if (!profile) throw conflict(`sandbox profile ${name} already exists`);
    await tx.insert(sandboxProfileVersions).values({ profileId: profile.id, version: 1, status: "draft", spec: profileSpec.parse({}) });
    return profile;
  });
}

async function profileOrThrow(db: Db, orgId: string, name: string) {
  const row = await db.query.sandboxProfiles.findFirst({
    where: and(eq(sandboxProfiles.orgId, orgId), eq(sandboxProfiles.name, name)),
  });
  if (!row) throw notFound(`sandbox profile ${name}`);
  return row;
}

const versionView = (v: ProfileVersion, snapshot: Snapshot | undefined) => ({
  id: v.id, version: v.version, status: v.status, spec: storedSpec(v.spec),
  publishedAt: v.publishedAt?.toISOString() ?? null, snapshot: snapshotView(snapshot),
});

/** The profile with its draft and its published versions (newest first), each with its newest snapshot. */
export async function getProfileViewOrThrow(db: Db, orgId: string, name: string) {
  const profile = await profileOrThrow(db, orgId, name);
  const versions = await db.select().from(sandboxProfileVersions)
    .where(eq(sandboxProfileVersions.profileId, profile.id)).orderBy(desc(sandboxProfileVersions.version));
  const latest = await latestSnapshots(db, versions.map((v) => v.id));
  const draft = versions.find((v) => v.status === "draft");
  const published = versions.filter((v) => v.status === "published");
  return {
    name: profile.name,
    createdAt: profile.createdAt.toISOString(),
    draft: draft ? versionView(draft, latest.get(draft.id)) : null,
    published: published.map((v) => versionView(v, latest.get(v.id))),
    /** The version new sessions start on: the newest one with a ready snapshot. */
    inUse: published.find((v) => latest.get(v.id)?.status === "ready")?.version ?? null,
  };
}

export async function updateDraft(db: Db, orgId: string, name: string, spec: ProfileSpec) {
  const profile = await profileOrThrow(db, orgId, name);
  const [row] = await db.update(sandboxProfileVersions).set({ spec })
    .where(and(eq(sandboxProfileVersions.profileId, profile.id), eq(sandboxProfileVersions.status, "draft")))
    .returning();
  if (!row) throw notFound(`draft of sandbox profile ${name}`);
  return versionView(row, undefined);
}

/**
 * Publishes the draft: it becomes immutable, a copy becomes the next draft, and its snapshot is
 * queued. With nothing new in the draft, it asks again for the newest published version's snapshot
 * instead: the one queued or running (the same job), or a fresh one after a failure.
 */
export async function publishProfile(deps: ProfileDeps, orgId: string, name: string) {
  const result = await deps.db.transaction(async (tx) => {
    // Locked so two publishes of one profile cannot both take the same draft.
    const [profile] = await tx.select().from(sandboxProfiles)
      .where(and(eq(sandboxProfiles.orgId, orgId), eq(sandboxProfiles.name, name))).for("update");
    if (!profile) throw notFound(`sandbox profile ${name}`);
    const versions = await tx.select().from(sandboxProfileVersions)
      .where(eq(sandboxProfileVersions.profileId, profile.id)).orderBy(desc(sandboxProfileVersions.version));
    const draft = versions.find((v) => v.status === "draft");
    const published = versions.find((v) => v.status === "published");
    if (published && (!draft || sameSpec(storedSpec(draft.spec), storedSpec(published.spec)))) {
      const [latest] = await tx.select().from(snapshots)
        .where(eq(snapshots.profileVersionId, published.id)).orderBy(desc(snapshots.createdAt)).limit(1);
      if (latest && latest.status !== "failed") return { version: published, snapshot: latest };
      const [snapshot] = await tx.insert(snapshots).values({ profileVersionId: published.id }).returning();
      return { version: published, snapshot: snapshot! };
    }
    if (!draft) throw conflict(`sandbox profile ${name} has no draft to publish`);
    const [version] = await tx.update(sandboxProfileVersions).set({ status: "published", publishedAt: deps.clock.now() })
      .where(eq(sandboxProfileVersions.id, draft.id)).returning();
    await tx.insert(sandboxProfileVersions).values({ profileId: profile.id, version: draft.version + 1, status: "draft", spec: draft.spec });
    const [snapshot] = await tx.insert(snapshots).values({ profileVersionId: draft.id }).returning();
    return { version: version!, snapshot: snapshot! };
  });
  if (result.snapshot.status === "queued") await requestSnapshot(deps, result.snapshot);
  deps.logger.info({ orgId, profile: name, version: result.version.version, snapshotId: result.snapshot.id }, "profile.published");
  return versionView(result.version, result.snapshot);
}

/**
 * The version a new session on the profile starts on: the newest published one whose newest
 * snapshot is ready, so a failed rebuild keeps the earlier image in use.
 */
export async function sessionProfileVersionOrThrow(db: Db, orgId: string, name: string): Promise<string> {
  const published = await db
    .select({ id: sandboxProfileVersions.id, version: sandboxProfileVersions.version })
    .from(sandboxProfileVersions)
    .innerJoin(sandboxProfiles, eq(sandboxProfiles.id, sandboxProfileVersions.profileId))
    .where(and(
      eq(sandboxProfiles.orgId, orgId), eq(sandboxProfiles.name, name), eq(sandboxProfileVersions.status, "published"),
    ))
    .orderBy(desc(sandboxProfileVersions.version));
  const newest = published[0];
  if (!newest) throw notFound(`published sandbox profile ${name}`);
  const latest = await latestSnapshots(db, published.map((v) => v.id));
  const usable = published.find((v) => latest.get(v.id)?.status === "ready");
  if (usable) return usable.id;
  const status = latest.get(newest.id)?.status ?? "none";
  throw conflict(`profile ${name} v${newest.version} has no ready snapshot yet (status: ${status})`);
}
