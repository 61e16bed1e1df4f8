import { eq } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { users } from "../db/schema.ts";

export interface GithubIdentity {
  githubId: number;
  login: string;
  name: string | null;
  /** The account's primary email, only when GitHub says it is verified. */
  verifiedEmail: string | null;
  /** The OAuth token, already encrypted; null when there is no ENCRYPTION_KEY to store it with. */
  tokenEncrypted: string | null;
}

/**
 * The Tandem user behind a GitHub sign-in. Known GitHub ids sign in as themselves. On a first
 * sign-in, a user an admin added by email (the members API) is linked when that email is the
 * GitHub account's verified primary, so the person lands in that org; anyone else gets a new
 * user that belongs to no org until an admin adds them.
 */
export async function signInGithubUser(
  db: Db,
  who: GithubIdentity,
): Promise<{ userId: string; created: boolean; linked: boolean }> {
  return db.transaction(async (tx) => {
    const github = {
      githubLogin: who.login,
      ...(who.tokenEncrypted ? { githubTokenEncrypted: who.tokenEncrypted } : {}),
    };
    const known = await tx.query.users.findFirst({ where: eq(users.githubId, who.githubId) });
    if (known) {
      await tx.update(users).set(github).where(eq(users.id, known.id));
      return { userId: known.id, created: false, linked: false };
    }
    const email = who.verifiedEmail?.toLowerCase() ?? null;
    const byEmail = email
      ? await tx.query.users.findFirst({ where: eq(users.email, email) })
      : undefined;
    if (byEmail && byEmail.githubId === null) {
      await tx
        .update(users)
        .set({ githubId: who.githubId, ...github })
        .where(eq(users.id, byEmail.id));
      return { userId: byEmail.id, created: false, linked: true };
    }
    const [row] = await tx
      .insert(users)
      .values({
        name: who.name || who.login,
        email: byEmail ? null : email,
        githubId: who.githubId,
        ...github,
      })
      .returning({ id: users.id });
    return { userId: row!.id, created: true, linked: false };
  });
}
