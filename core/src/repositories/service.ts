import { and, asc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { decryptSecret, encryptSecret } from "../crypto.ts";
import type { Db } from "../db/client.ts";
import { repositories } from "../db/schema.ts";
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

export async function registerRepository(
  db: Db,
  orgId: string,
  input: RepositoryInput,
  encryptionKey?: string,
): Promise<Repository> {
  const { credential, ...fields } = input;
  if (credential && !/^https?:\/\//.test(fields.cloneUrl)) {
    throw badRequest(
      "a credential is only used for http(s) remotes; an ssh or file remote cannot take one",
    );
  }
  if (credential && !encryptionKey) {
    throw badRequest(
      "a repository credential is stored encrypted: set ENCRYPTION_KEY on the server first (openssl rand -base64 32)",
    );
  }
  const credentialEncrypted = credential
    ? encryptSecret(encryptionKey, JSON.stringify(credential))
    : null;
  const [row] = await db
    .insert(repositories)
    .values({ orgId, ...fields, credentialEncrypted })
    .onConflictDoNothing()
    .returning();
  if (!row) throw conflict(`repository ${input.name} is already registered`);
  return row;
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
