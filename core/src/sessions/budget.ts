import { and, eq, gte, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { modelUsage, orgSettings, sessionEvents, type sessions } from "../db/schema.ts";
import type { EventBus } from "../events/bus.ts";
import { appendEvent } from "../events/log.ts";
import type { Logger } from "../logger.ts";

/** A session row as just read: its token totals are current. */
type BudgetedSession = Pick<
  typeof sessions.$inferSelect,
  "id" | "orgId" | "inputTokens" | "outputTokens" | "lastEventSeq"
>;

/** The start of the calendar month (UTC) that `now` is in: the org budget's window. */
export const budgetMonthStart = (now: Date) =>
  new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));

/**
 * Why the session may not make another model call, or null when it may. A budget counts input +
 * output tokens as the upstream reported them: the session's over its life (`sessionTokenBudget`),
 * the org's over the current calendar month in UTC (`monthlyTokenBudget`, every session's calls
 * in that month, deleted sessions included). Null budgets are unlimited.
 */
export async function tokenBudgetExhausted(
  db: Db,
  session: BudgetedSession,
  now: Date,
): Promise<string | null> {
  const settings = await db.query.orgSettings.findFirst({
    where: eq(orgSettings.orgId, session.orgId),
  });
  if (!settings) return null;
  if (settings.sessionTokenBudget !== null) {
    const used = session.inputTokens + session.outputTokens;
    if (used >= settings.sessionTokenBudget) {
      return `token budget exhausted: session used ${used} of ${settings.sessionTokenBudget} tokens`;
    }
  }
  if (settings.monthlyTokenBudget !== null) {
    const [row] = await db
      .select({
        used: sql<string>`coalesce(sum(${modelUsage.inputTokens} + ${modelUsage.outputTokens}), 0)`,
      })
      .from(modelUsage)
      .where(
        and(eq(modelUsage.orgId, session.orgId), gte(modelUsage.createdAt, budgetMonthStart(now))),
      );
    const used = Number(row?.used ?? 0);
    if (used >= settings.monthlyTokenBudget) {
      const month = budgetMonthStart(now).toISOString().slice(0, 7);
      return `token budget exhausted: organization used ${used} of ${settings.monthlyTokenBudget} tokens in ${month} (UTC)`;
    }
  }
  return null;
}

/**
 * The session's log says why its turn stopped, as an `error` event. An agent that retries gets
 * the same answer; the log says it once (unless something else was logged since).
 */
export async function recordBudgetRefusal(
  deps: { db: Db; bus: EventBus; logger: Logger },
  session: BudgetedSession,
  message: string,
): Promise<void> {
  const last = await deps.db.query.sessionEvents.findFirst({
    where: and(
      eq(sessionEvents.sessionId, session.id),
      eq(sessionEvents.seq, session.lastEventSeq),
    ),
  });
  if (last?.type === "error" && (last.data as { message?: unknown }).message === message) return;
  await appendEvent(deps, session.id, { type: "error", message });
}
