import type { FastifyInstance } from "fastify";
import { createOrganization, issueToken, schema } from "@tandem/core";
import { buildApp } from "@tandem/web";
import type { TestRuntime } from "./runtime.ts";

export interface ApiClient {
  token: string;
  request(
    method: string,
    url: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{
    status: number;
    body: any;
    headers: Record<string, unknown>;
  }>;
}

export async function buildTestApp(rt: TestRuntime): Promise<FastifyInstance> {
  const app = await buildApp(rt);
  await app.ready();
  return app;
}

/** Calls the app through Fastify's inject with a user's bearer token. */
export function apiClient(app: FastifyInstance, token: string): ApiClient {
  return {
    token,
    async request(method, url, body, headers = {}) {
      const res = await app.inject({
        method: method as "GET",
        url,
        headers: { authorization: `Bearer ${token}`, ...headers },
        ...(body === undefined
          ? {}
          : typeof body === "string"
            ? {
                payload: body,
                headers: {
                  authorization: `Bearer ${token}`,
                  "content-type": "application/json",
                  ...headers,
                },
              }
            : { payload: body as object }),
      });
      let parsed: unknown = res.body;
      try {
        parsed = res.json();
      } catch {
        /* not JSON */
      }
      return { status: res.statusCode, body: parsed, headers: res.headers };
    },
  };
}

/** A second organization with its own owner and token, to prove isolation. */
export async function otherOrganization(rt: TestRuntime) {
  const [user] = await rt.database.db
    .insert(schema.users)
    .values({ name: "Mallory", email: `mallory-${Date.now()}@example.test` })
    .returning();
  const org = await createOrganization(rt.database.db, { name: "Other", ownerUserId: user!.id });
  const { token } = await issueToken(rt.database.db, rt.clock, { userId: user!.id, kind: "api" });
  return { org, userId: user!.id, token };
}

export async function ownerToken(rt: TestRuntime): Promise<string> {
  return (await issueToken(rt.database.db, rt.clock, { userId: rt.ownerId, kind: "api" })).token;
}
