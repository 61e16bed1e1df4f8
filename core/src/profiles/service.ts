import { and, asc, desc, eq, inArray } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { sandboxProfiles, sandboxProfileVersions, snapshots } from "../db/schema.ts";
import { AppError, badRequest, conflict, notFound } from "../errors.ts";
import { findRepositoriesByName, unknownRepositoriesMessage } from "../repositories/service.ts";
import type { Logger } from "../logger.ts";
import type { Queues } from "../queue/queues.ts";
import {
  listSnapshots,
  requestSnapshot,
  snapshotView,
  versionSnapshots,
  type Snapshot,
} from "./snapshots.ts";
import {
  checkHostNetworkOrThrow,
  INTEGRATIONS,
  primaryRepository,
  profileSpec,
  sameSpec,
  storedSpec,
  type ProfileSpec,
} from "./spec.ts";

export type ProfileVersion = typeof sandboxProfileVersions.$inferSelect;

export interface ProfileDeps {
  db: Db;
  queues: Queues;
  logger: Logger;
  clock: Clock;
}

/** The profile sessions start on when they name none; every org gets one (see ensureDefaultProfile). */
export const DEFAULT_PROFILE = "default";

/** A version needs a build only when something must happen in it; otherwise its image is used as it is. */
const needsBuild = (spec: ProfileSpec) =>
  spec.setupScript.trim() !== "" || spec.repositories.length > 0;

/**
 * Every profile of the org, with whether it can start a session now and, when not, why: the
 * same message the API answers 409 with. The New session form offers only the startable ones.
 */
export async function listProfiles(db: Db, orgId: string) {
  const profiles = await db
    .select()
    .from(sandboxProfiles)
    .where(eq(sandboxProfiles.orgId, orgId))
    .orderBy(asc(sandboxProfiles.name));
  if (profiles.length === 0) return [];
  const versions = await db
    .select()
    .from(sandboxProfileVersions)
    .where(
      and(
        inArray(
          sandboxProfileVersions.profileId,
          profiles.map((p) => p.id),
        ),
        eq(sandboxProfileVersions.status, "published"),
      ),
    )
    .orderBy(desc(sandboxProfileVersions.version));
  const { latest, ready } = await versionSnapshots(
    db,
    versions.map((v) => v.id),
  );
  return profiles.map((profile) => {
    const published = versions.filter((v) => v.profileId === profile.id);
    const usable = published.find((v) => ready.has(v.id));
    const reason = unstartableReason(profile, published, latest, ready);
    return {
      name: profile.name,
      active: profile.active,
      /** The version new sessions start on. */
      version: usable?.version ?? null,
      /** The repository sessions on that version start on when they name none. */
      repository: (usable && primaryRepository(storedSpec(usable.spec))) ?? null,
      latest: published[0]
        ? { version: published[0].version, snapshot: latest.get(published[0].id)?.status ?? null }
        : null,
      startable: reason === null,
      reason,
    };
  });
}

function unstartableReason(
  profile: { name: string; active: boolean },
  published: ProfileVersion[],
  latest: Map<string, Snapshot>,
  ready: Map<string, Snapshot>,
): string | null {
  if (!profile.active) return `profile ${profile.name} is inactive`;
  const newest = published[0];
  if (!newest) return `profile ${profile.name} has no published version yet`;
  if (published.some((v) => ready.has(v.id))) return null;
  return `profile ${profile.name} v${newest.version} has no ready snapshot yet (status: ${latest.get(newest.id)?.status ?? "none"})`;
}

/**
 * The org's default profile: the configured sandbox image, Codex, no setup script. Its v1 is
 * published with a ready snapshot at once (nothing to build), so a new org can start a session
 * in one step. Idempotent; orgs from before profiles existed get it on their first session.
 */
export async function ensureDefaultProfile(db: Db, orgId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [profile] = await tx
      .insert(sandboxProfiles)
      .values({ orgId, name: DEFAULT_PROFILE })
      .onConflictDoNothing()
      .returning();
    if (!profile) return;
    const spec = profileSpec.parse({});
    const [v1] = await tx
      .insert(sandboxProfileVersions)
      .values({
        profileId: profile.id,
        version: 1,
        status: "published",
        spec,
        publishedAt: new Date(),
      })
      .returning();
    await tx
      .insert(sandboxProfileVersions)
      .values({ profileId: profile.id, version: 2, status: "draft", spec });
    await tx
      .insert(snapshots)
      .values({ profileVersionId: v1!.id, status: "ready", finishedAt: new Date() });
  });
}

/** A new profile starts with an empty draft, version 1. */
export async function createProfile(db: Db, orgId: string, name: string) {
  return db.transaction(async (tx) => {
    const [profile] = await tx
      .insert(sandboxProfiles)
      .values({ orgId, name })
      .onConflictDoNothing()
      .returning();
    if (!profile) throw conflict(`sandbox profile ${name} already exists`);
    await tx
      .insert(sandboxProfileVersions)
      .values({ profileId: profile.id, version: 1, status: "draft", spec: profileSpec.parse({}) });
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
  id: v.id,
  version: v.version,
  status: v.status,
  spec: storedSpec(v.spec),
  publishedAt: v.publishedAt?.toISOString() ?? null,
  snapshot: snapshotView(snapshot),
});

/** The profile with its draft and its published versions (newest first), each with its newest snapshot. */
export async function getProfileViewOrThrow(db: Db, orgId: string, name: string) {
  const profile = await profileOrThrow(db, orgId, name);
  const versions = await db
    .select()
    .from(sandboxProfileVersions)
    .where(eq(sandboxProfileVersions.profileId, profile.id))
    .orderBy(desc(sandboxProfileVersions.version));
  const { latest, ready } = await versionSnapshots(
    db,
    versions.map((v) => v.id),
  );
  const draft = versions.find((v) => v.status === "draft");
  const published = versions.filter((v) => v.status === "published");
  return {
    name: profile.name,
    active: profile.active,
    refreshCron: profile.refreshCron,
    createdAt: profile.createdAt.toISOString(),
    draft: draft ? versionView(draft, latest.get(draft.id)) : null,
    published: published.map((v) => versionView(v, latest.get(v.id))),
    /** The version new sessions start on: the newest one with a ready snapshot. */
    inUse: published.find((v) => ready.has(v.id))?.version ?? null,
  };
}

/** What the instance lets a profile ask for (SANDBOX_ALLOW_HOST_NETWORK). */
export interface ProfilePermissions {
  allowHostNetwork: boolean;
}

export async function updateDraft(
  db: Db,
  orgId: string,
  name: string,
  spec: ProfileSpec,
  allowed: ProfilePermissions,
) {
  checkHostNetworkOrThrow(spec, allowed.allowHostNetwork);
  const profile = await profileOrThrow(db, orgId, name);
  // Checked again when the snapshot is built: a repository may be removed in between.
  const { unknown } = await findRepositoriesByName(
    db,
    orgId,
    spec.repositories.map((r) => r.name),
  );
  if (unknown.length) throw badRequest(unknownRepositoriesMessage(unknown));
  const [row] = await db
    .update(sandboxProfileVersions)
    .set({ spec })
    .where(
      and(
        eq(sandboxProfileVersions.profileId, profile.id),
        eq(sandboxProfileVersions.status, "draft"),
      ),
    )
    .returning();
  if (!row) throw notFound(`draft of sandbox profile ${name}`);
  return versionView(row, undefined);
}

/** A snapshot row for the version: queued for the worker, or ready at once when there is nothing to build. */
export function newSnapshot(
  version: ProfileVersion,
  clock: Clock,
  trigger: Snapshot["trigger"] = "publish",
) {
  return needsBuild(storedSpec(version.spec))
    ? { profileVersionId: version.id, trigger }
    : { profileVersionId: version.id, trigger, status: "ready" as const, finishedAt: clock.now() };
}

/**
 * Publishes the draft: it becomes immutable, a copy becomes the next draft, and its snapshot is
 * queued. With nothing new in the draft, it asks again for the newest published version's snapshot
 * instead: the one queued or running (the same job), or a fresh one after a failure.
 */
export async function publishProfile(
  deps: ProfileDeps,
  orgId: string,
  name: string,
  allowed: ProfilePermissions,
) {
  const result = await deps.db.transaction(async (tx) => {
    // Locked so two publishes of one profile cannot both take the same draft.
    const [profile] = await tx
      .select()
      .from(sandboxProfiles)
      .where(and(eq(sandboxProfiles.orgId, orgId), eq(sandboxProfiles.name, name)))
      .for("update");
    if (!profile) throw notFound(`sandbox profile ${name}`);
    const versions = await tx
      .select()
      .from(sandboxProfileVersions)
      .where(eq(sandboxProfileVersions.profileId, profile.id))
      .orderBy(desc(sandboxProfileVersions.version));
    const draft = versions.find((v) => v.status === "draft");
    const published = versions.find((v) => v.status === "published");
    if (published && (!draft || sameSpec(storedSpec(draft.spec), storedSpec(published.spec)))) {
      const [latest] = await tx
        .select()
        .from(snapshots)
        .where(eq(snapshots.profileVersionId, published.id))
        .orderBy(desc(snapshots.createdAt))
        .limit(1);
      if (latest && latest.status !== "failed") return { version: published, snapshot: latest };
      const [snapshot] = await tx
        .insert(snapshots)
        .values(newSnapshot(published, deps.clock))
        .returning();
      return { version: published, snapshot: snapshot! };
    }
    if (!draft) throw conflict(`sandbox profile ${name} has no draft to publish`);
    // Saved before the instance stopped allowing it, perhaps: published versions run as they are.
    checkHostNetworkOrThrow(storedSpec(draft.spec), allowed.allowHostNetwork);
    const [version] = await tx
      .update(sandboxProfileVersions)
      .set({ status: "published", publishedAt: deps.clock.now() })
      .where(eq(sandboxProfileVersions.id, draft.id))
      .returning();
    await tx.insert(sandboxProfileVersions).values({
      profileId: profile.id,
      version: draft.version + 1,
      status: "draft",
      spec: draft.spec,
    });
    const [snapshot] = await tx
      .insert(snapshots)
      .values(newSnapshot(version!, deps.clock))
      .returning();
    return { version: version!, snapshot: snapshot! };
  });
  if (result.snapshot.status === "queued") await requestSnapshot(deps, result.snapshot);
  deps.logger.info(
    { orgId, profile: name, version: result.version.version, snapshotId: result.snapshot.id },
    "profile.published",
  );
  return versionView(result.version, result.snapshot);
}

/**
 * The version a new session on the profile starts on: the newest published one with a ready
 * snapshot, so a failed (or still running) rebuild keeps the earlier image in use. `from` is where
 * the session is started: an integration (slack, github, …) only when the version lists it.
 */
async function sessionProfileVersionOrThrow(
  db: Db,
  orgId: string,
  name: string,
  opts: { from?: string } = {},
): Promise<ProfileVersion> {
  const profile = await db.query.sandboxProfiles.findFirst({
    where: and(eq(sandboxProfiles.orgId, orgId), eq(sandboxProfiles.name, name)),
  });
  if (!profile) throw notFound(`sandbox profile ${name}`);
  const published = await db
    .select()
    .from(sandboxProfileVersions)
    .where(
      and(
        eq(sandboxProfileVersions.profileId, profile.id),
        eq(sandboxProfileVersions.status, "published"),
      ),
    )
    .orderBy(desc(sandboxProfileVersions.version));
  const { latest, ready } = await versionSnapshots(
    db,
    published.map((v) => v.id),
  );
  const reason = unstartableReason(profile, published, latest, ready);
  if (reason) throw conflict(reason);
  const version = published.find((v) => ready.has(v.id))!;
  const integrations = storedSpec(version.spec).integrations;
  if (isIntegration(opts.from) && !integrations.includes(opts.from)) {
    throw conflict(
      `profile ${name} cannot be used from ${opts.from} (its integrations: ${integrations.join(", ") || "none"})`,
    );
  }
  return version;
}

/** The version a session asking for `profile` (the org's default when absent) from `from` starts on. */
export async function resolveSessionProfileOrThrow(
  db: Db,
  orgId: string,
  profile: string | undefined,
  from?: string,
) {
  const name = profile ?? DEFAULT_PROFILE;
  try {
    return await sessionProfileVersionOrThrow(db, orgId, name, { from });
  } catch (err) {
    // An org from before profiles existed gets its default profile now (only then: not on every start).
    if (name !== DEFAULT_PROFILE || !(err instanceof AppError && err.code === "not_found"))
      throw err;
    await ensureDefaultProfile(db, orgId);
    return sessionProfileVersionOrThrow(db, orgId, name, { from });
  }
}

const isIntegration = (from: string | undefined): from is (typeof INTEGRATIONS)[number] =>
  (INTEGRATIONS as readonly string[]).includes(from ?? "");

/** A version's snapshots, newest first: what built it (publish, refresh, schedule), how it went, its log. */
export async function listVersionSnapshotsOrThrow(
  db: Db,
  orgId: string,
  name: string,
  version: number,
) {
  const profile = await profileOrThrow(db, orgId, name);
  const row = await db.query.sandboxProfileVersions.findFirst({
    where: and(
      eq(sandboxProfileVersions.profileId, profile.id),
      eq(sandboxProfileVersions.version, version),
    ),
  });
  if (!row) throw notFound(`version ${version} of sandbox profile ${name}`);
  const rows = await listSnapshots(db, row.id);
  return { version: row.version, status: row.status, snapshots: rows.map((s) => snapshotView(s)!) };
}
