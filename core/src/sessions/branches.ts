import type { Session } from "./service.ts";

/** The branch a session's work goes on: `tandem/<first 8 characters of its id>`. */
export const sessionBranch = (sessionId: string) => `tandem/${sessionId.slice(0, 8)}`;

/**
 * The branch a session pushes its work to: the existing branch it started on (a pull request's
 * head, `baseRef`) when that is a plain branch name, its own session branch otherwise. A pull
 * ref (a fork's pull request) or a commit is not the session's to move.
 */
export function pushTarget(session: Pick<Session, "id" | "baseRef">): string {
  const ref = session.baseRef;
  const onBranch =
    ref && /^[\w./-]+$/.test(ref) && !ref.startsWith("refs/") && !/^[0-9a-f]{7,40}$/.test(ref);
  return onBranch ? ref : sessionBranch(session.id);
}

/**
 * Whether the session may move `ref` (a full ref name) through Tandem's git remote: its session
 * branch and branches below it, and the branch it pushes back to.
 */
export function sessionMayPush(session: Pick<Session, "id" | "baseRef">, ref: string): boolean {
  const own = `refs/heads/${sessionBranch(session.id)}`;
  return ref === own || ref.startsWith(`${own}/`) || ref === `refs/heads/${pushTarget(session)}`;
}
