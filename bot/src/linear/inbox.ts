import { and, eq, sql } from "drizzle-orm";
import { schema, type Db } from "@tandem/core";
import { PROVIDER } from "./config.ts";
import { toTrigger, type LinearTrigger } from "./trigger-source.ts";

/** The `created` event of an agent session, from the inbox: its issue, comment and context. */
export async function createdEvent(
  db: Db,
  agentSessionId: string,
): Promise<Extract<LinearTrigger, { type: "start" }> | null> {
  const [row] = await db
    .select({ payload: schema.inboundEvents.payload })
    .from(schema.inboundEvents)
    .where(
      and(
        eq(schema.inboundEvents.provider, PROVIDER),
        sql`${schema.inboundEvents.payload}->>'action' = 'created'`,
        sql`${schema.inboundEvents.payload}->'agentSession'->>'id' = ${agentSessionId}`,
      ),
    )
    .limit(1);
  const trigger = row ? toTrigger(row.payload) : null;
  return trigger?.type === "start" ? trigger : null;
}
