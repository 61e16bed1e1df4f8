import { and, eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { installations, organizations } from "../db/schema.ts";
import { ensureDefaultOrganization } from "../orgs/service.ts";

/**
 * Records a provider's installation (a Linear workspace, a Jira site, a Discord server) for the
 * default organization, unless it is already recorded (for whichever org); returns its row.
 */
export async function installForDefaultOrg(
  db: Db,
  defaultOrgName: string,
  row: { provider: string; externalId: string; data: Record<string, unknown> },
) {
  const org =
    (await db.query.organizations.findFirst({ where: eq(organizations.isDefault, true) })) ??
    (await ensureDefaultOrganization(db, defaultOrgName)).org;
  await db
    .insert(installations)
    .values({ orgId: org.id, ...row })
    .onConflictDoNothing();
  const found = await db.query.installations.findFirst({
    where: and(
      eq(installations.provider, row.provider),
      eq(installations.externalId, row.externalId),
    ),
  });
  return found!;
}
