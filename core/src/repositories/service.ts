import { and, asc, count, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { decryptSecret, encryptSecret } from "../crypto.ts";
import type { Db } from "../db/client.ts";
import { repositories, sessions } from "../db/schema.ts";
import { badRequest, conflict, notFound } from "../errors.ts";

/** https, ssh and file remotes, and the scp-like `git@host:owner/repo.git` form. */
const CLONE_URL =
  /^(https?:\/\/[^\s]+|ssh:\/\/[^\s]+|git:\/\/[^\s]+|file:\/\/\/[^\s]*|[\w.-]+@[\w.-]+:[^\s]+)$/;

export const repositoryInput = z.strictObject({
  name: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { error: "name must look like owner/repo" }),
  cloneUrl: z
    .string()
    .regex(CLONE_URL, { error: "cloneUrl must be an https, ssh, git or file:// remote" })
    // A user or token in an http(s) URL would be handed to the sandbox with the remote; ssh's `git@` names no secret.
    .refine((url) => !/^https?:\/\/[^/@\s]*@/.test(url), {
      error:
        "cloneUrl must not carry a user:password part; register the URL without it and pass the secret as credential",
    }),
  defaultBranch: z
    .string()
    .regex(/^[\w./-]+$/, { error: "defaultBranch must be a branch name" })
    .default("main"),
  /** Basic-auth credential the sandbox gets through the git credential helper; stored encrypted, never shown. */
  credential: z
    .strictObject({
      username: credentialPart("username"),
      password: credentialPart("password"),
    })
    .optional(),
});
export type RepositoryInput = z.infer<typeof repositoryInput>;
export type Repository = typeof repositories.$inferSelect;
export type RepositoryCredential = NonNullable<RepositoryInput["credential"]>;

/** Line breaks or NUL would let a value smuggle extra fields into git's credential protocol. */
function credentialPart(name: string) {
  return z
    .string()
    .min(1, { error: `${name} must not be empty` })
    .max(4096)
    .regex(/^[^\r\n\0]*$/, { error: `${name} must not contain line breaks` });
}

/** What can change on a registered repository (its name is how profiles and chats refer to it). */
export const repositoryPatch = z.strictObject({
  cloneUrl: repositoryInput.shape.cloneUrl.optional(),
  defaultBranch: repositoryInput.shape.defaultBranch.unwrap().optional(),
  /** A new credential, or null to remove the stored one. */
  credential: repositoryInput.shape.credential.unwrap().nullable().optional(),
});
export type RepositoryPatch = z.infer<typeof repositoryPatch>;

/**
 * Why a remote cannot be cloned where sessions run, if it cannot: a `file://` path is on this
 * machine's disk, which a Docker sandbox does not see.
 */
export function remoteProblem(cloneUrl: string, sandboxProvider: string): string | null {
  if (sandboxProvider === "docker" && cloneUrl.startsWith("file://"))
    return (
      "a file:// remote is a path on this machine, which Docker sandboxes cannot see: serve the repository " +
      "over http(s) or ssh (your git host, or `git daemon --export-all --base-path=<dir>` on this machine) " +
      "and register that URL; file:// works only with SANDBOX_PROVIDER=local"
    );
  return null;
}

function encryptedCredential(
  cloneUrl: string,
  credential: RepositoryCredential,
  encryptionKey: string | undefined,
) {
  if (!/^https?:\/\//.test(cloneUrl)) {
    throw badRequest(
      "a credential is only used for http(s) remotes; an ssh or file remote cannot take one",
    );
  }
  if (!encryptionKey) {
    throw badRequest(
      "a repository credential is stored encrypted: set ENCRYPTION_KEY on the server first (openssl rand -base64 32)",
    );
  }
  return encryptSecret(encryptionKey, JSON.stringify(credential));
}

export async function registerRepository(
  db: Db,
  orgId: string,
  input: RepositoryInput,
  encryptionKey?: string,
): Promise<Repository> {
  const { credential, ...fields } = input;
  const credentialEncrypted = credential
    ? encryptedCredential(fields.cloneUrl, credential, encryptionKey)
    : null;
  const [row] = await db
    .insert(repositories)
    .values({ orgId, ...fields, credentialEncrypted })
    .onConflictDoNothing()
    .returning();
  if (!row) throw conflict(`repository ${input.name} is already registered`);
  return row;
}

/** The org's repository by id; 404 for another org's or none. */
export async function findRepositoryOrThrow(db: Db, orgId: string, id: string) {
  const row = /^[0-9a-f-]{36}$/i.test(id)
    ? await db.query.repositories.findFirst({
        where: and(eq(repositories.orgId, orgId), eq(repositories.id, id)),
      })
    : undefined;
  if (!row) throw notFound("repository");
  return row;
}

/** Changes a repository's remote, default branch or credential (null removes it). */
export async function updateRepository(
  db: Db,
  repo: Repository,
  patch: RepositoryPatch,
  encryptionKey?: string,
): Promise<Repository> {
  const cloneUrl = patch.cloneUrl ?? repo.cloneUrl;
  const keepsCredential = patch.credential === undefined && repo.credentialEncrypted !== null;
  if (keepsCredential && !/^https?:\/\//.test(cloneUrl))
    throw badRequest(
      "this repository has a credential, which only an http(s) remote can use: remove it (credential: null) to move to an ssh or file remote",
    );
  const credentialEncrypted =
    patch.credential === undefined
      ? repo.credentialEncrypted
      : patch.credential === null
        ? null
        : encryptedCredential(cloneUrl, patch.credential, encryptionKey);
  const [row] = await db
    .update(repositories)
    .set({
      cloneUrl,
      defaultBranch: patch.defaultBranch ?? repo.defaultBranch,
      credentialEncrypted,
    })
    .where(eq(repositories.id, repo.id))
    .returning();
  return row!;
}

/** Removes a repository no session works in (their history needs it); 409 naming how many do. */
export async function deleteRepository(db: Db, repo: Repository): Promise<void> {
  const [used] = await db
    .select({ n: count() })
    .from(sessions)
    .where(eq(sessions.repositoryId, repo.id));
  if (used && used.n > 0)
    throw conflict(
      `${repo.name} is the repository of ${used.n} session${used.n === 1 ? "" : "s"}: delete ${used.n === 1 ? "it" : "them"} first, or keep the repository (its remote and credential can be changed)`,
    );
  await db.delete(repositories).where(eq(repositories.id, repo.id));
}

export async function listRepositories(db: Db, orgId: string): Promise<Repository[]> {
  return db
    .select()
    .from(repositories)
    .where(eq(repositories.orgId, orgId))
    .orderBy(asc(repositories.name));
}

export async function findRepositoryByNameOrThrow(
  db: Db,
  orgId: string,
  name: string,
): Promise<Repository> {
  const row = await db.query.repositories.findFirst({
    where: and(eq(repositories.orgId, orgId), eq(repositories.name, name)),
  });
  if (!row) throw notFound(`repository ${name}`);
  return row;
}

/** The named repositories of the org in the order asked, and the names it has not registered. */
export async function findRepositoriesByName(
  db: Db,
  orgId: string,
  names: string[],
): Promise<{ repositories: Repository[]; unknown: string[] }> {
  const rows =
    names.length === 0
      ? []
      : await db
          .select()
          .from(repositories)
          .where(and(eq(repositories.orgId, orgId), inArray(repositories.name, names)));
  const byName = new Map(rows.map((r) => [r.name, r]));
  return {
    repositories: names.flatMap((n) => byName.get(n) ?? []),
    unknown: names.filter((n) => !byName.has(n)),
  };
}

/** The message for names a profile lists but the org has not registered. */
export const unknownRepositoriesMessage = (unknown: string[]) =>
  `unknown ${unknown.length === 1 ? "repository" : "repositories"} ${unknown.join(", ")}: register ${unknown.length === 1 ? "it" : "them"} first (POST /api/repositories)`;

/** Public view: never the stored credential. */
export const repositoryView = (r: Repository) => ({
  id: r.id,
  name: r.name,
  cloneUrl: r.cloneUrl,
  defaultBranch: r.defaultBranch,
  hasCredential: r.credentialEncrypted !== null,
  createdAt: r.createdAt.toISOString(),
});

/** The listed repositories of the org (a sandbox token's grant); ids of other orgs never match. */
export async function repositoriesForGrant(
  db: Db,
  grant: { orgId: string; repositoryIds: string[] },
): Promise<Repository[]> {
  if (grant.repositoryIds.length === 0) return [];
  return db
    .select()
    .from(repositories)
    .where(and(eq(repositories.orgId, grant.orgId), inArray(repositories.id, grant.repositoryIds)))
    .orderBy(asc(repositories.name));
}

/** The stored credential in plain text; null when the repository has none. */
export function repositoryCredential(
  encryptionKey: string | undefined,
  repo: Repository,
): RepositoryCredential | null {
  if (!repo.credentialEncrypted) return null;
  return JSON.parse(decryptSecret(encryptionKey, repo.credentialEncrypted)) as RepositoryCredential;
}
