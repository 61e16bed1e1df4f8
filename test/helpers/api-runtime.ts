import type { FastifyInstance } from "fastify";
import { issueToken, schema } from "@tandem/core";
import { apiClient, buildTestApp, ownerToken, type ApiClient } from "./api.ts";
import { appKeys, githubAppEnv } from "./github.ts";
import { startTestRuntime, type DbKind, type TestRuntime } from "./runtime.ts";
import { startedBeforeAll } from "./hooks.ts";
import { until } from "./stack.ts";

export const ADMIN_TOKEN = "admin-token-for-tests-only-0123456789";

/** The API on a fresh runtime, called in-process (Fastify's inject), and its owner's client. */
export interface ApiRuntime {
  rt: TestRuntime;
  app: FastifyInstance;
  owner: ApiClient;
  close(): Promise<void>;
}

/**
 * The API on a fresh `kind` database and a connected Redis, with ADMIN_TOKEN set (and Slack and
 * GitHub configured, so sessions bound to their threads link back to them), and the
 * repository acme/app (https://git.example.test/acme/app.git, never fetched) registered by the
 * default org's owner.
 */
async function startApiRuntime(kind: DbKind): Promise<ApiRuntime> {
  // Slack and GitHub configured (never called here), for the links back to their threads.
  const rt = await startTestRuntime(kind, {
    ADMIN_TOKEN,
    SLACK_BOT_TOKEN: "xoxb-test-token",
    SLACK_SIGNING_SECRET: "test-signing-secret",
    ...githubAppEnv("http://127.0.0.1:9", appKeys().privateKey),
  });
  let app: FastifyInstance | undefined;
  const close = async () => {
    await app?.close();
    await rt.close();
  };
  try {
    // Redis connects after the runtime opens (its client connections queue nothing meanwhile):
    // the tests start once it is up, as a long-running deployment's requests do.
    await until("the runtime's Redis connection", async () => rt.redis.status === "ready");
    await Promise.all(Object.values(rt.queues).map((q) => q.waitUntilReady()));
    app = await buildTestApp(rt);
    const owner = apiClient(app, await ownerToken(rt));
    const created = await owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
      defaultBranch: "main",
    });
    if (created.status !== 201)
      throw new Error(
        `registering acme/app answered ${created.status}: ${JSON.stringify(created.body)}`,
      );
    return { rt, app, owner, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The file's API runtime: started in beforeAll, closed in afterAll (see startedBeforeAll). */
export const useApiRuntime = (kind: DbKind) => startedBeforeAll(() => startApiRuntime(kind));

/** A new user who is a plain member (not an admin) of the default organization, and their API client. */
export async function defaultOrgMember(api: Pick<ApiRuntime, "rt" | "app">, emailPrefix: string) {
  const { rt, app } = api;
  const { db } = rt.database;
  const [user] = await db
    .insert(schema.users)
    .values({ name: "Member", email: `${emailPrefix}-${Date.now()}@example.test` })
    .returning();
  await db
    .insert(schema.memberships)
    .values({ orgId: rt.defaultOrgId, userId: user!.id, role: "member" });
  return apiClient(app, (await issueToken(db, rt.clock, { userId: user!.id, kind: "api" })).token);
}
