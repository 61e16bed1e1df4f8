import { eq } from "drizzle-orm";
import type { Clock } from "../clock.ts";
import type { Db } from "../db/client.ts";
import { sessions } from "../db/schema.ts";
import { forbidden } from "../errors.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../logger.ts";
import type { Actor } from "../orgs/service.ts";
import { getSessionOrThrow, type Session } from "./service.ts";

export const TITLE_MAX = 200;
const DERIVED_TITLE_MAX = 120;

/** What a session is called everywhere: its title, or else the first non-empty line of its task. */
export function sessionTitle(s: Pick<Session, "title" | "prompt">): string {
  if (s.title) return s.title;
  const line = s.prompt.split("\n").find((l) => l.trim()) ?? "";
  return line.trim().slice(0, DERIVED_TITLE_MAX);
}

/**
 * Renames a session (the caller has trimmed and bounded `title`). As with deleting, members may
 * rename their own sessions; owners and admins any of the org's.
 */
export async function setSessionTitle(
  deps: { db: Db; bus: EventBus; logger: Logger; clock: Clock },
  actor: Actor,
  id: string,
  title: string,
): Promise<Session> {
  const session = await getSessionOrThrow(deps.db, actor.orgId, id);
  if (actor.role === "member" && session.createdBy !== actor.userId)
    throw forbidden(
      "only the session's creator or an owner or admin of the organization can rename it",
    );
  const [row] = await deps.db
    .update(sessions)
    .set({ title, updatedAt: deps.clock.now() })
    .where(eq(sessions.id, id))
    .returning();
  await deps.bus
    .publishChange({ orgId: actor.orgId, sessionId: id, kind: "title" })
    .catch((err) => deps.logger.warn({ err, sessionId: id }, "event.publish_failed"));
  return row!;
}
