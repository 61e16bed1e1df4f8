import { and, desc, eq, inArray, isNotNull } from "drizzle-orm";
import cronParser from "cron-parser";
import { sandboxProfiles, sandboxProfileVersions, sessions, snapshots } from "../db/schema.ts";
import { AppError, badRequest, conflict, notFound } from "../errors.ts";
import type { Queues } from "../queue/queues.ts";
import { DEFAULT_PROFILE, newSnapshot, type ProfileDeps } from "./service.ts";
import { requestSnapshot, snapshotView, type Snapshot } from "./snapshots.ts";
import { withTimeout } from "../util/timeout.ts";

type Profile = typeof sandboxProfiles.$inferSelect;

/** The snapshots queue's job that a profile's refresh schedule produces. */
export const REFRESH_JOB = "refresh-profile";
/** One scheduler per profile: upserting replaces its cron, so a profile never has two. */
const REFRESH_SCHEDULER_PREFIX = "profile-refresh-";
const refreshSchedulerId = (profileId: string) => `${REFRESH_SCHEDULER_PREFIX}${profileId}`;

/** A refresh cron as stored: 5 fields (minute hour day month weekday), or 6 with seconds first; UTC. */
export function parseRefreshCronOrThrow(expression: string): string {
  const cron = expression.trim().replace(/\s+/g, " ");
  const fields = cron.split(" ").length;
  if (fields < 5 || fields > 6) {
    throw badRequest(
      `refreshCron "${expression}" must have 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first`,
    );
  }
  try {
    cronParser.parseExpression(cron, { tz: "UTC" }).next();
  } catch (err) {
    throw badRequest(
      `refreshCron "${expression}" is not a valid cron expression: ${(err as Error).message}`,
    );
  }
  return cron;
}

const within = <T>(work: Promise<T>, timeoutMs: number) =>
  withTimeout(work, timeoutMs, "redis did not answer in time");

/** Puts the profile's schedule in BullMQ as the row says: a scheduler while active with a cron, none otherwise. */
async function applyRefreshSchedule(
  queues: Queues,
  profile: Pick<Profile, "id" | "active" | "refreshCron">,
): Promise<void> {
  const id = refreshSchedulerId(profile.id);
  if (profile.active && profile.refreshCron) {
    await within(
      queues.snapshots.upsertJobScheduler(
        id,
        { pattern: profile.refreshCron, tz: "UTC" },
        {
          name: REFRESH_JOB,
          data: { profileId: profile.id },
          opts: { removeOnComplete: true, removeOnFail: { count: 100 } },
        },
      ),
      5_000,
    );
  } else {
    await within(queues.snapshots.removeJobScheduler(id), 5_000);
  }
}

/**
 * Sets whether the profile is active and its refresh cron (null clears it). The schedule follows
 * in the same step, under the profile's lock, so concurrent changes end with Redis as the row says.
 */
export async function updateProfile(
  deps: ProfileDeps,
  orgId: string,
  name: string,
  patch: { active?: boolean; refreshCron?: string | null },
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const [locked] = await tx
      .select()
      .from(sandboxProfiles)
      .where(and(eq(sandboxProfiles.orgId, orgId), eq(sandboxProfiles.name, name)))
      .for("update");
    if (!locked) throw notFound(`sandbox profile ${name}`);
    const [row] = await tx
      .update(sandboxProfiles)
      .set({
        ...(patch.active !== undefined ? { active: patch.active } : {}),
        ...(patch.refreshCron !== undefined ? { refreshCron: patch.refreshCron } : {}),
      })
      .where(eq(sandboxProfiles.id, locked.id))
      .returning();
    try {
      await applyRefreshSchedule(deps.queues, row!);
    } catch (err) {
      deps.logger.warn({ err, orgId, profile: name }, "profile.schedule_failed");
      throw new AppError(
        "schedule_unavailable",
        "the refresh schedule could not be saved (the queue did not answer); nothing was changed, try again",
        503,
      );
    }
  });
  deps.logger.info({ orgId, profile: name, ...patch }, "profile.updated");
}

/**
 * Deletes a profile that no session ever started on, with its versions, snapshots and schedule;
 * its images go with the next GC. Sessions record their version, so a used profile is kept
 * (deactivate it instead), and so is the org's default profile.
 */
export async function deleteProfile(deps: ProfileDeps, orgId: string, name: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const [profile] = await tx
      .select()
      .from(sandboxProfiles)
      .where(and(eq(sandboxProfiles.orgId, orgId), eq(sandboxProfiles.name, name)))
      .for("update");
    if (!profile) throw notFound(`sandbox profile ${name}`);
    if (name === DEFAULT_PROFILE)
      throw conflict(
        `the ${DEFAULT_PROFILE} profile cannot be deleted: sessions that name no profile start on it`,
      );
    const versionIds = (
      await tx
        .select({ id: sandboxProfileVersions.id })
        .from(sandboxProfileVersions)
        .where(eq(sandboxProfileVersions.profileId, profile.id))
    ).map((v) => v.id);
    const [used] = await tx
      .select({ id: sessions.id })
      .from(sessions)
      .where(inArray(sessions.profileVersionId, versionIds))
      .limit(1);
    if (used)
      throw conflict(
        `profile ${name} has sessions that started on it; deactivate it instead (PATCH {"active": false})`,
      );
    const [building] = await tx
      .select({ id: snapshots.id })
      .from(snapshots)
      .where(
        and(
          inArray(snapshots.profileVersionId, versionIds),
          inArray(snapshots.status, ["queued", "running"]),
        ),
      )
      .limit(1);
    if (building)
      throw conflict(
        `profile ${name} has a snapshot being built; delete it once the build is done`,
      );
    await tx.delete(sandboxProfiles).where(eq(sandboxProfiles.id, profile.id));
    await applyRefreshSchedule(deps.queues, { id: profile.id, active: false, refreshCron: null });
  });
  deps.logger.info({ orgId, profile: name }, "profile.deleted");
}

/**
 * Rebuilds the newest published version's snapshot. At most one build per version is queued or
 * running: asking again while one is gives that one. The earlier ready snapshot stays in use
 * until the new one is ready, and after it if the new one fails.
 */
export async function refreshProfile(
  deps: ProfileDeps,
  which: { orgId: string; name: string } | { profileId: string },
  trigger: "refresh" | "schedule",
) {
  const result = await deps.db.transaction(async (tx) => {
    // The same lock publishing takes: a refresh and a publish of one profile do not interleave.
    const [profile] = await tx
      .select()
      .from(sandboxProfiles)
      .where(
        "profileId" in which
          ? eq(sandboxProfiles.id, which.profileId)
          : and(eq(sandboxProfiles.orgId, which.orgId), eq(sandboxProfiles.name, which.name)),
      )
      .for("update");
    if (!profile && "profileId" in which && trigger === "schedule")
      return {
        profile: { id: which.profileId, active: false, refreshCron: null },
        skipped: "unscheduled" as const,
      };
    if (!profile)
      throw notFound(`sandbox profile ${"name" in which ? which.name : which.profileId}`);
    if (trigger === "schedule" && (!profile.active || !profile.refreshCron))
      return { profile, skipped: "unscheduled" as const };
    const [version] = await tx
      .select()
      .from(sandboxProfileVersions)
      .where(
        and(
          eq(sandboxProfileVersions.profileId, profile.id),
          eq(sandboxProfileVersions.status, "published"),
        ),
      )
      .orderBy(desc(sandboxProfileVersions.version))
      .limit(1);
    if (!version) {
      if (trigger === "schedule") return { profile, skipped: "unpublished" as const };
      throw conflict(
        `profile ${profile.name} has no published version to refresh; publish it first`,
      );
    }
    const [latest] = await tx
      .select()
      .from(snapshots)
      .where(eq(snapshots.profileVersionId, version.id))
      .orderBy(desc(snapshots.createdAt))
      .limit(1);
    if (latest && (latest.status === "queued" || latest.status === "running"))
      return { profile, version, snapshot: latest, created: false };
    const [snapshot] = await tx
      .insert(snapshots)
      .values(newSnapshot(version, deps.clock, trigger))
      .returning();
    return { profile, version, snapshot: snapshot!, created: true };
  });
  if ("skipped" in result) {
    // A schedule left behind (profile deleted, deactivated or cleared while Redis was away) goes now.
    deps.logger.info(
      { profileId: result.profile.id, reason: result.skipped },
      "profile.refresh_skipped",
    );
    if (result.skipped === "unscheduled") await applyRefreshSchedule(deps.queues, result.profile);
    return null;
  }
  // Enqueued again even when it exists: a snapshot committed while Redis was away gets its job now.
  if (result.snapshot.status === "queued") await requestSnapshot(deps, result.snapshot);
  deps.logger.info(
    {
      orgId: result.profile.orgId,
      profile: result.profile.name,
      version: result.version.version,
      snapshotId: result.snapshot.id,
      trigger,
      created: result.created,
    },
    "profile.refresh_requested",
  );
  return {
    version: result.version.version,
    versionId: result.version.id,
    snapshot: snapshotView(result.snapshot as Snapshot)!,
  };
}

/**
 * Makes BullMQ's schedulers match the rows: every active profile with a cron has one, and no
 * other profile does (a change made while Redis was away, a Redis that lost its data, a profile
 * deleted). Only what differs is touched, so the worker runs it at start and on every sweep.
 * Returns how many schedulers it added, changed or removed.
 */
export async function syncRefreshSchedules(
  deps: Pick<ProfileDeps, "db" | "queues" | "logger">,
): Promise<number> {
  const existing = new Map(
    (await deps.queues.snapshots.getJobSchedulers())
      .filter((scheduler) => scheduler.key.startsWith(REFRESH_SCHEDULER_PREFIX))
      .map((scheduler) => [
        scheduler.key.slice(REFRESH_SCHEDULER_PREFIX.length),
        scheduler.pattern ?? null,
      ]),
  );
  const wanted = new Map(
    (
      await deps.db
        .select()
        .from(sandboxProfiles)
        .where(and(eq(sandboxProfiles.active, true), isNotNull(sandboxProfiles.refreshCron)))
    ).map((profile) => [profile.id, profile.refreshCron]),
  );
  const differ = new Set(
    [...wanted.keys(), ...existing.keys()].filter(
      (id) => (wanted.get(id) ?? null) !== (existing.get(id) ?? null),
    ),
  );
  let changed = 0;
  for (const profileId of differ) if (await reconcileSchedule(deps, profileId)) changed++;
  if (changed) deps.logger.info({ schedules: wanted.size, changed }, "profile.schedules_synced");
  return changed;
}

/**
 * One profile's scheduler made to match its row, under the row's lock: updateProfile holds the
 * same lock while it changes both, so a sweep never puts back what a PATCH just removed.
 */
async function reconcileSchedule(
  deps: Pick<ProfileDeps, "db" | "queues">,
  profileId: string,
): Promise<boolean> {
  return deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select()
      .from(sandboxProfiles)
      .where(eq(sandboxProfiles.id, profileId))
      .for("update");
    const want = row?.active && row.refreshCron ? row.refreshCron : null;
    const have =
      (await deps.queues.snapshots.getJobScheduler(refreshSchedulerId(profileId)))?.pattern ?? null;
    if (have === want) return false;
    await applyRefreshSchedule(
      deps.queues,
      row ?? { id: profileId, active: false, refreshCron: null },
    );
    return true;
  });
}
