import { desc, eq } from "drizzle-orm";
import { Counter, type Registry } from "prom-client";
import { schema, type Clock, type Db, type Logger } from "@tandem/core";
import type { GatewayIdentity } from "./types.ts";

type EgressDecision = "allowed" | "blocked" | "intercepted";

interface EgressAttempt {
  host: string;
  port: number;
  method: string;
  decision: EgressDecision;
  reason: string;
}

export interface Traffic {
  bytesUp: number;
  bytesDown: number;
}

/** Records one connection; `closed` is called once, when it ends, with the bytes each way. */
export type EgressRecorder = (
  identity: GatewayIdentity,
  attempt: EgressAttempt,
) => { closed(traffic: Traffic): void };

const COUNTER = "tandem_sandbox_egress_total";

/**
 * Every decision of the egress proxy, in `sandbox_egress` (a row at decision time, its bytes at
 * close; a blocked one closed at once) and in the counter. A failed write is logged, never
 * thrown: the connection goes on as decided.
 */
export function egressRecorder(
  deps: { db: Db; logger: Logger; clock: Clock },
  metrics?: Registry,
): EgressRecorder {
  const counter =
    metrics &&
    ((metrics.getSingleMetric(COUNTER) as Counter<"decision"> | undefined) ??
      new Counter({
        name: COUNTER,
        help: "Sandbox egress proxy decisions",
        labelNames: ["decision"],
        registers: [metrics],
      }));
  return (identity, attempt) => {
    counter?.inc({ decision: attempt.decision });
    const { grant } = identity;
    const log = {
      orgId: grant.orgId,
      sessionId: grant.sessionId,
      purpose: grant.purpose,
      ...attempt,
    };
    deps.logger.info(log, "egress.decided");
    const now = deps.clock.now();
    const inserted = deps.db
      .insert(schema.sandboxEgress)
      .values({
        orgId: grant.orgId,
        sessionId: grant.sessionId ?? null,
        purpose: grant.purpose,
        ...attempt,
        createdAt: now,
        closedAt: attempt.decision === "blocked" ? now : null,
      })
      .returning({ id: schema.sandboxEgress.id })
      .then((rows) => rows[0]?.id)
      .catch((err: unknown) => {
        deps.logger.error({ err, ...log }, "egress.record_failed");
        return undefined;
      });
    let done = false;
    return {
      closed(traffic) {
        if (done || attempt.decision === "blocked") return;
        done = true;
        void inserted
          .then(async (id) => {
            if (id === undefined) return;
            await deps.db
              .update(schema.sandboxEgress)
              .set({ ...traffic, closedAt: deps.clock.now() })
              .where(eq(schema.sandboxEgress.id, id));
          })
          .catch((err: unknown) => deps.logger.error({ err, ...log }, "egress.record_failed"));
      },
    };
  };
}

/** The session's egress decisions, newest first, as the workbench's Network panel shows them. */
export async function listSessionEgress(db: Db, sessionId: string, limit: number) {
  const rows = await db
    .select()
    .from(schema.sandboxEgress)
    .where(eq(schema.sandboxEgress.sessionId, sessionId))
    .orderBy(desc(schema.sandboxEgress.createdAt), desc(schema.sandboxEgress.id))
    .limit(limit);
  return rows.map((r) => ({
    host: r.host,
    port: r.port,
    method: r.method,
    decision: r.decision,
    reason: r.reason,
    bytesUp: r.bytesUp,
    bytesDown: r.bytesDown,
    createdAt: r.createdAt.toISOString(),
    closedAt: r.closedAt?.toISOString() ?? null,
  }));
}
