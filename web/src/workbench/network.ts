import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { WebDeps } from "../deps.ts";
import { listSessionEgress } from "../gateway/egress-records.ts";
import { parse } from "../http.ts";
import { requireSession } from "./sandbox-access.ts";

const networkQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) });

/** The session's egress decisions (the Network panel): host, method, decision, bytes, newest first. */
export function networkRoutes(app: FastifyInstance, deps: WebDeps) {
  app.get("/api/sessions/:id/network", async (req) => {
    const session = await requireSession(deps, req);
    const { limit } = parse(networkQuery, req.query, "query");
    return { connections: await listSessionEgress(deps.database.db, session.id, limit) };
  });
}
