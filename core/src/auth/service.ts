import { and, desc, eq, gt, isNull, or } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { apiTokens, organizations, memberships } from "../db/schema.ts";
import { generateToken, hashToken, safeEqual } from "./tokens.ts";

export type TokenKind = (typeof apiTokens.$inferSelect)["kind"];

export const LOGIN_LINK_TTL_MS = 24 * 60 * 60 * 1000;
export const BROWSER_SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export async function issueToken(
  db: Db,
  clock: Clock,
  input: { userId: string; kind: TokenKind; name?: string; ttlMs?: number },
): Promise<{ id: string; token: string }> {
  const token = generateToken();
  const expiresAt = input.ttlMs ? new Date(clock.now().getTime() + input.ttlMs) : null;
  const [row] = await db
    .insert(apiTokens)
    .values({
      userId: input.userId,
      kind: input.kind,
      name: input.name ?? "",
      tokenHash: hashToken(token),
      expiresAt,
    })
    .returning({ id: apiTokens.id });
  return { id: row!.id, token };
}

/** The user a bearer token or browser cookie stands for, or null. */
export async function authenticate(
  db: Db,
  clock: Clock,
  token: string,
  adminToken: string | undefined,
): Promise<{ userId: string } | null> {
  if (adminToken && safeEqual(token, adminToken)) return defaultOrgOwner(db);
  const row = await db.query.apiTokens.findFirst({
    where: and(
      eq(apiTokens.tokenHash, hashToken(token)),
      or(eq(apiTokens.kind, "api"), eq(apiTokens.kind, "browser")),
      or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, clock.now())),
    ),
  });
  if (!row) return null;
  // An API token's last use, to the minute (not a write per request).
  const now = clock.now();
  if (row.kind === "api" && (!row.usedAt || now.getTime() - row.usedAt.getTime() > 60_000))
    await db.update(apiTokens).set({ usedAt: now }).where(eq(apiTokens.id, row.id));
  return { userId: row.userId };
}

export interface ApiTokenView {
  id: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

/** The user's API tokens (never the tokens themselves), newest first; expired ones are listed too. */
export async function listApiTokens(db: Db, userId: string): Promise<ApiTokenView[]> {
  const rows = await db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      createdAt: apiTokens.createdAt,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.usedAt,
    })
    .from(apiTokens)
    .where(and(eq(apiTokens.userId, userId), eq(apiTokens.kind, "api")))
    .orderBy(desc(apiTokens.createdAt));
  return rows;
}

/** Revokes one of the user's API tokens at once (it is deleted); false when they have no such token. */
export async function revokeApiToken(db: Db, userId: string, tokenId: string): Promise<boolean> {
  const gone = await db
    .delete(apiTokens)
    .where(and(eq(apiTokens.id, tokenId), eq(apiTokens.userId, userId), eq(apiTokens.kind, "api")))
    .returning({ id: apiTokens.id });
  return gone.length > 0;
}

/** A login link works once, before it expires. */
export async function consumeLoginToken(
  db: Db,
  clock: Clock,
  token: string,
): Promise<{ userId: string } | null> {
  const now = clock.now();
  const [row] = await db
    .update(apiTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(apiTokens.tokenHash, hashToken(token)),
        eq(apiTokens.kind, "login"),
        isNull(apiTokens.usedAt),
        gt(apiTokens.expiresAt, now),
      ),
    )
    .returning({ userId: apiTokens.userId });
  return row ?? null;
}

async function defaultOrgOwner(db: Db): Promise<{ userId: string } | null> {
  const [row] = await db
    .select({ userId: memberships.userId })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(organizations.isDefault, true), eq(memberships.role, "owner")))
    .orderBy(memberships.createdAt)
    .limit(1);
  return row ?? null;
}
