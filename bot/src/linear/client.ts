import {
  AuthenticationLinearError,
  ForbiddenLinearError,
  InvalidInputLinearError,
  LinearClient,
  RatelimitedLinearError,
} from "@linear/sdk";
import { eq, and } from "drizzle-orm";
import {
  ensureDefaultOrganization,
  RetryLaterError,
  schema,
  UnrecoverableError,
  type Db,
} from "@tandem/core";
import { PROVIDER, type LinearSettings } from "./config.ts";

/** A failure as the outbound queue handles it: wait (rate limit), give up (refused), or retry. */
function classifyLinearError(err: unknown): Error {
  if (err instanceof RatelimitedLinearError)
    return new RetryLaterError(
      Math.max(1, err.retryAfter ?? 5) * 1000,
      "Linear asked Tandem to slow down",
    );
  if (
    err instanceof AuthenticationLinearError ||
    err instanceof ForbiddenLinearError ||
    err instanceof InvalidInputLinearError
  )
    return new UnrecoverableError(`Linear refused the call: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

/** Calls Linear; a failure comes back classified. */
export async function linearCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw classifyLinearError(err);
  }
}

/** A client acting as the agent (LINEAR_API_KEY) on the configured endpoint. */
export const createLinearClient = (settings: LinearSettings) =>
  new LinearClient({ apiKey: settings.apiKey, apiUrl: settings.apiUrl });

/**
 * The org a Linear workspace belongs to: its installation row, recorded for the default org the
 * first time the workspace of LINEAR_API_KEY writes (one workspace, one key).
 */
export async function workspaceOrg(
  db: Db,
  organizationId: string,
  defaultOrgName: string,
): Promise<string> {
  const found = await db.query.installations.findFirst({
    where: and(
      eq(schema.installations.provider, PROVIDER),
      eq(schema.installations.externalId, organizationId),
    ),
  });
  if (found) return found.orgId;
  const org =
    (await db.query.organizations.findFirst({ where: eq(schema.organizations.isDefault, true) })) ??
    (await ensureDefaultOrganization(db, defaultOrgName)).org;
  const [row] = await db
    .insert(schema.installations)
    .values({ orgId: org.id, provider: PROVIDER, externalId: organizationId, data: {} })
    .onConflictDoNothing()
    .returning();
  return row?.orgId ?? (await workspaceOrg(db, organizationId, defaultOrgName));
}
