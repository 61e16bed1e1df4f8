import { eq } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { sandboxes, sessions } from "../db/schema.ts";
import { AppError, conflict, forbidden } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Actor } from "../orgs/service.ts";
import type { SandboxProvider } from "../sandbox/types.ts";
import { getSessionOrThrow } from "./service.ts";
import { isTerminal } from "./state.ts";

/**
 * Deletes an ended session with everything it left: its sandbox (if a worker has not removed it
 * yet), the volumes of a persistent sandbox, its events, messages and turns. A session that has
 * not ended is refused (409): stopping it first leaves no worker racing the deletion. Members
 * may delete their own sessions; owners and admins any of the org's.
 */
export async function deleteSession(
  deps: { db: Db; logger: Logger; clock: Clock; sandboxes?: SandboxProvider },
  actor: Actor,
  id: string,
): Promise<void> {
  const session = await getSessionOrThrow(deps.db, actor.orgId, id);
  if (actor.role === "member" && session.createdBy !== actor.userId) {
    throw forbidden(
      "only the session's creator or an owner or admin of the organization can delete it",
    );
  }
  if (!isTerminal(session.status)) {
    throw conflict(
      `session is ${session.status}; stop it first (POST /api/sessions/${id}/stop), then delete it`,
    );
  }
  const rows = await deps.db.select().from(sandboxes).where(eq(sandboxes.sessionId, id));
  const leftovers = rows.filter((r) => (r.externalId && !r.removedAt) || r.volumes.length > 0);
  const provider = deps.sandboxes;
  if (leftovers.length && !provider) {
    throw new AppError(
      "sandbox_unavailable",
      "this process has no sandbox provider to remove the session's sandbox with",
      503,
    );
  }
  for (const row of leftovers) {
    if (row.provider !== provider!.kind) {
      throw new AppError(
        "sandbox_unavailable",
        `the session's sandbox is on the ${row.provider} provider; this process runs ${provider!.kind}`,
        503,
      );
    }
    if (row.externalId && !row.removedAt) {
      await provider!.stop(row.externalId, { timeoutMs: 2_000 });
      await provider!.remove(row.externalId);
    }
    // After the container: a volume still mounted cannot be removed.
    for (const volume of row.volumes) await provider!.removeVolume(volume.name);
    await deps.db
      .update(sandboxes)
      .set({ status: "removed", removedAt: row.removedAt ?? deps.clock.now(), volumes: [] })
      .where(eq(sandboxes.id, row.id));
    deps.logger.info(
      { sessionId: id, sandbox: row.externalId, volumes: row.volumes.map((v) => v.name) },
      "sandbox.deleted",
    );
  }
  await deps.db.delete(sessions).where(eq(sessions.id, id));
  deps.logger.info({ sessionId: id, orgId: actor.orgId }, "session.deleted");
}
