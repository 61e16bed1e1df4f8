import { and, asc, eq, max } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sandboxProfiles, sandboxProfileVersions } from "../db/schema.ts";

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
