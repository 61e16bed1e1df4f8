import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../db/client.ts";
import { repositories } from "../db/schema.ts";
import { conflict, notFound } from "../errors.ts";

/** https, ssh and file remotes, and the scp-like `git@host:owner/repo.git` form. */
const CLONE_URL = /^(https?:\/\/[^\s]+|ssh:\/\/[^\s]+|git:\/\/[^\s]+|file:\/\/\/[^\s]*|[\w.-]+@[\w.-]+:[^\s]+)$/;

export const repositoryInput = z.strictObject({
  name: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { error: "name must look like owner/repo" }),
  cloneUrl: z.string().regex(CLONE_URL, { error: "cloneUrl must be an https, ssh, git or file:// remote" }),
  defaultBranch: z.string().regex(/^[\w./-]+$/, { error: "defaultBranch must be a branch name" }).default("main"),
});
export type RepositoryInput = z.infer<typeof repositoryInput>;
export type Repository = typeof repositories.$inferSelect;

export async function registerRepository(db: Db, orgId: string, input: RepositoryInput): Promise<Repository> {
  const [row] = await db
    .insert(repositories)
    .values({ orgId, ...input })
    .onConflictDoNothing()
    .returning();
  if (!row) throw conflict(`repository ${input.name} is already registered`);
  return row;
}

export async function listRepositories(db: Db, orgId: string): Promise<Repository[]> {
  return db.select().from(repositories).where(eq(repositories.orgId, orgId)).orderBy(asc(repositories.name));
}

export async function findRepositoryByNameOrThrow(db: Db, orgId: string, name: string): Promise<Repository> {
  const row = await db.query.repositories.findFirst({
    where: and(eq(repositories.orgId, orgId), eq(repositories.name, name)),
  });
  if (!row) throw notFound(`repository ${name}`);
  return row;
}

/** Public view: never the stored credential. */
export const repositoryView = (r: Repository) => ({
  id: r.id,
  name: r.name,
  cloneUrl: r.cloneUrl,
  defaultBranch: r.defaultBranch,
  createdAt: r.createdAt.toISOString(),
});
