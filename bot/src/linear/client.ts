import {
  AuthenticationLinearError,
  ForbiddenLinearError,
  InvalidInputLinearError,
  LinearClient,
  RatelimitedLinearError,
} from "@linear/sdk";
import { eq, and } from "drizzle-orm";
import {
  decryptSecret,
  encryptSecret,
  installForDefaultOrg,
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

/** A workspace's stored OAuth credential (encrypted in `installations.credentials_encrypted`). */
interface StoredToken {
  accessToken: string;
  refreshToken?: string;
  /** ms since the epoch; absent: does not expire. */
  expiresAt?: number;
}

/** What Linear's token endpoint answers. */
interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  expires_in?: number;
  scope?: string | string[];
}

/** Exchanges a code (or a refresh token) at Linear's token endpoint. */
export async function requestToken(
  settings: LinearSettings,
  grant: { code: string; redirectUri: string } | { refreshToken: string },
): Promise<StoredToken> {
  const oauth = settings.oauth!;
  const form = new URLSearchParams({
    client_id: oauth.clientId,
    client_secret: oauth.clientSecret,
    ...("code" in grant
      ? { grant_type: "authorization_code", code: grant.code, redirect_uri: grant.redirectUri }
      : { grant_type: "refresh_token", refresh_token: grant.refreshToken }),
  });
  const res = await fetch(oauth.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(`Linear's token endpoint answered ${res.status}: ${text.slice(0, 200)}`);
  const answer = JSON.parse(text) as TokenAnswer;
  return {
    accessToken: answer.access_token,
    ...(answer.refresh_token ? { refreshToken: answer.refresh_token } : {}),
    ...(answer.expires_in ? { expiresAt: Date.now() + answer.expires_in * 1000 } : {}),
  };
}

type Installation = typeof schema.installations.$inferSelect;

/**
 * The Linear workspaces Tandem acts in, and a client for each: the OAuth installation's token
 * (refreshed shortly before it expires), else LINEAR_API_KEY for the one workspace it belongs to.
 */
export class LinearWorkspaces {
  private readonly clients = new Map<string, { client: LinearClient; until: number }>();
  private readonly agents = new Map<string, Promise<{ id: string; names: string[] }>>();
  private keyClient?: LinearClient;

  constructor(
    private readonly deps: { db: Db; settings: LinearSettings; defaultOrgName: string },
  ) {}

  private installation(where: ReturnType<typeof eq>) {
    return this.deps.db.query.installations.findFirst({
      where: and(eq(schema.installations.provider, PROVIDER), where),
    });
  }

  /**
   * The org a Linear workspace belongs to: its installation; with LINEAR_API_KEY, a workspace
   * Tandem never saw is the key's and is recorded for the default org. Null for a workspace
   * nobody installed Tandem in.
   */
  async orgOf(workspaceId: string): Promise<string | null> {
    const found = await this.installation(eq(schema.installations.externalId, workspaceId));
    if (found) return found.orgId;
    if (!this.deps.settings.apiKey) return null;
    const row = await installForDefaultOrg(this.deps.db, this.deps.defaultOrgName, {
      provider: PROVIDER,
      externalId: workspaceId,
      data: { apiKey: true },
    });
    return row.orgId;
  }

  /** A client for the workspace (by its Linear id), or for the org's workspace. */
  async client(target: { workspaceId: string } | { orgId: string }): Promise<LinearClient> {
    const row =
      "workspaceId" in target
        ? await this.installation(eq(schema.installations.externalId, target.workspaceId))
        : await this.installation(eq(schema.installations.orgId, target.orgId));
    if (row?.credentialsEncrypted) return this.oauthClient(row);
    if (this.deps.settings.apiKey)
      return (this.keyClient ??= new LinearClient({
        apiKey: this.deps.settings.apiKey,
        apiUrl: this.deps.settings.apiUrl,
      }));
    throw new UnrecoverableError("Linear is not connected for this workspace: install the app");
  }

  /** The agent's own Linear user in the workspace (the app user Tandem acts as), asked once. */
  agent(workspaceId: string): Promise<{ id: string; names: string[] }> {
    let found = this.agents.get(workspaceId);
    if (!found) {
      found = linearCall(async () => {
        const v = await (await this.client({ workspaceId })).viewer;
        return {
          id: v.id,
          names: [v.displayName, v.name].filter(Boolean).map((n) => n.toLowerCase()),
        };
      });
      found.catch(() => this.agents.delete(workspaceId));
      this.agents.set(workspaceId, found);
    }
    return found;
  }

  private async oauthClient(row: Installation): Promise<LinearClient> {
    const cached = this.clients.get(row.id);
    if (cached && cached.until > Date.now()) return cached.client;
    const { settings, db } = this.deps;
    let token = JSON.parse(
      decryptSecret(settings.encryptionKey, row.credentialsEncrypted!),
    ) as StoredToken;
    if (token.expiresAt && token.expiresAt - Date.now() < 5 * 60_000 && token.refreshToken) {
      token = {
        refreshToken: token.refreshToken,
        ...(await requestToken(settings, { refreshToken: token.refreshToken })),
      };
      await db
        .update(schema.installations)
        .set({ credentialsEncrypted: encryptSecret(settings.encryptionKey, JSON.stringify(token)) })
        .where(eq(schema.installations.id, row.id));
    }
    const client = new LinearClient({ accessToken: token.accessToken, apiUrl: settings.apiUrl });
    const until = Math.min(Date.now() + 60_000, (token.expiresAt ?? Infinity) - 5 * 60_000);
    this.clients.set(row.id, { client, until });
    return client;
  }
}
