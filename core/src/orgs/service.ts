import { and, asc, eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { memberships, organizations, orgSettings, users } from "../db/schema.ts";
import { ensureDefaultProfile } from "../profiles/service.ts";
import { badRequest, conflict, forbidden, notFound } from "../errors.ts";

export type Role = (typeof memberships.$inferSelect)["role"];
export type Organization = typeof organizations.$inferSelect;

export interface Actor {
  userId: string;
  orgId: string;
  role: Role;
}

const slugify = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 40) || "org";

export async function createOrganization(
  db: Db,
  input: { name: string; ownerUserId: string; isDefault?: boolean },
): Promise<Organization> {
  const org = await db.transaction(async (tx) => {
    const base = slugify(input.name);
    const [{ taken }] = (await tx
      .select({ taken: sql<number>`count(*)::int` })
      .from(organizations)
      .where(
        sql`${organizations.slug} = ${base} or ${organizations.slug} like ${`${base}-%`}`,
      )) as [{ taken: number }];
    const [org] = await tx
      .insert(organizations)
      .values({
        name: input.name,
        slug: taken ? `${base}-${taken + 1}` : base,
        isDefault: input.isDefault ?? false,
      })
      .returning();
    await tx
      .insert(memberships)
      .values({ orgId: org!.id, userId: input.ownerUserId, role: "owner" });
    await tx.insert(orgSettings).values({ orgId: org!.id });
    return org!;
  });
  await ensureDefaultProfile(db, org.id);
  return org;
}

/** The org `npm start` and ADMIN_TOKEN act on; created with its owner on first start. */
export async function ensureDefaultOrganization(
  db: Db,
  name: string,
): Promise<{ org: Organization; ownerId: string }> {
  const existing = await db.query.organizations.findFirst({
    where: eq(organizations.isDefault, true),
  });
  if (existing) {
    const owner = await db.query.memberships.findFirst({
      where: and(eq(memberships.orgId, existing.id), eq(memberships.role, "owner")),
      orderBy: asc(memberships.createdAt),
    });
    if (owner) return { org: existing, ownerId: owner.userId };
  }
  const [user] = await db.insert(users).values({ name: "Owner" }).returning();
  if (existing) {
    await db.insert(memberships).values({ orgId: existing.id, userId: user!.id, role: "owner" });
    return { org: existing, ownerId: user!.id };
  }
  const org = await createOrganization(db, { name, ownerUserId: user!.id, isDefault: true });
  return { org, ownerId: user!.id };
}

export async function listOrganizationsForUser(db: Db, userId: string) {
  return db
    .select({
      id: organizations.id,
      name: organizations.name,
      slug: organizations.slug,
      role: memberships.role,
    })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.createdAt));
}

/**
 * The org a request acts in: the one it names (if the user belongs to it) or the user's first.
 * Another org's id answers 404, as if it did not exist.
 */
export async function resolveActor(db: Db, userId: string, orgId?: string): Promise<Actor> {
  const rows = await db
    .select({ orgId: memberships.orgId, role: memberships.role })
    .from(memberships)
    .where(
      orgId
        ? and(eq(memberships.userId, userId), eq(memberships.orgId, orgId))
        : eq(memberships.userId, userId),
    )
    .orderBy(asc(memberships.createdAt))
    .limit(1);
  const row = rows[0];
  if (!row) throw notFound("organization");
  return { userId, orgId: row.orgId, role: row.role };
}

export function requireAdmin(actor: Actor): void {
  if (actor.role === "member")
    throw forbidden("only an owner or admin of the organization can do this");
}

export async function listMembers(db: Db, orgId: string) {
  return db
    .select({ userId: users.id, name: users.name, email: users.email, role: memberships.role })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.orgId, orgId))
    .orderBy(asc(memberships.createdAt));
}

/** Adds a user (created by email when new) to the org. */
export async function addMember(
  db: Db,
  orgId: string,
  input: { email: string; name?: string; role: Role },
) {
  return db.transaction(async (tx) => {
    const email = input.email.toLowerCase();
    let user = await tx.query.users.findFirst({ where: eq(users.email, email) });
    const created = !user;
    if (!user)
      [user] = await tx
        .insert(users)
        .values({ email, name: input.name ?? email.split("@")[0]! })
        .returning();
    const inserted = await tx
      .insert(memberships)
      .values({ orgId, userId: user!.id, role: input.role })
      .onConflictDoNothing()
      .returning();
    if (inserted.length === 0) throw conflict(`${email} is already a member`);
    return { userId: user!.id, name: user!.name, email, role: input.role, created };
  });
}

export async function updateMemberRole(db: Db, actor: Actor, userId: string, role: Role) {
  return db.transaction(async (tx) => {
    await assertNotLastOwner(tx as unknown as Db, actor.orgId, userId, role);
    const [row] = await tx
      .update(memberships)
      .set({ role })
      .where(and(eq(memberships.orgId, actor.orgId), eq(memberships.userId, userId)))
      .returning();
    if (!row) throw notFound("member");
    return row;
  });
}

export async function removeMember(db: Db, actor: Actor, userId: string) {
  await db.transaction(async (tx) => {
    await assertNotLastOwner(tx as unknown as Db, actor.orgId, userId, null);
    const rows = await tx
      .delete(memberships)
      .where(and(eq(memberships.orgId, actor.orgId), eq(memberships.userId, userId)))
      .returning();
    if (rows.length === 0) throw notFound("member");
  });
}

async function assertNotLastOwner(db: Db, orgId: string, userId: string, newRole: Role | null) {
  if (newRole === "owner") return;
  const owners = await db
    .select({ userId: memberships.userId })
    .from(memberships)
    .where(and(eq(memberships.orgId, orgId), eq(memberships.role, "owner")))
    .for("update");
  if (owners.length === 1 && owners[0]!.userId === userId) {
    throw badRequest("an organization needs at least one owner; make someone else owner first");
  }
}

export type OrgSettings = typeof orgSettings.$inferSelect;

export async function getOrgSettings(db: Db, orgId: string): Promise<OrgSettings> {
  const row = await db.query.orgSettings.findFirst({ where: eq(orgSettings.orgId, orgId) });
  if (!row) throw notFound("organization settings");
  return row;
}

export async function updateOrgSettings(
  db: Db,
  orgId: string,
  patch: Partial<
    Pick<
      OrgSettings,
      "concurrencyLimit" | "allowPersistentSandboxes" | "monthlyTokenBudget" | "sessionTokenBudget"
    >
  >,
): Promise<OrgSettings> {
  const [row] = await db
    .update(orgSettings)
    .set(patch)
    .where(eq(orgSettings.orgId, orgId))
    .returning();
  if (!row) throw notFound("organization settings");
  return row;
}
