import { and, eq, sql } from "drizzle-orm";
import { schema } from "@tandem/core";
import { startGitHttpServer, type GitHttpServer } from "../fixtures/git-http-server.ts";
import type { ModelServer } from "../fixtures/model-server.ts";
import { SANDBOX_IMAGE } from "./docker.ts";
import { until, type Stack } from "./stack.ts";

/** The basic-auth credential a test git server asks for, and Tandem stores with the repository. */
export interface GitCredential {
  username: string;
  password: string;
}

/** A test git server that remembers the credential it asks for, to register its repositories with. */
export type TestGit = GitHttpServer & { credential: GitCredential };

/** Repositories by name (`owner/repo`), each its files (path → content) in one commit on main. */
export type RepoFiles = Record<string, Record<string, string>>;

/** A loopback git HTTP server behind `credential`, holding `repos`. */
export async function startGitServer(
  credential: GitCredential,
  repos: RepoFiles,
): Promise<TestGit> {
  const git = await startGitHttpServer(credential);
  for (const [name, files] of Object.entries(repos)) git.createRepo(name, files);
  return Object.assign(git, { credential });
}

/**
 * The owner registers `name`, as `git` serves it, with the credential the server asks for
 * (`POST /api/repositories`; the default branch is main). Throws unless Tandem answers 201.
 */
export async function registerRepository(stack: Pick<Stack, "owner">, git: TestGit, name: string) {
  const res = await stack.owner.request("POST", "/api/repositories", {
    name,
    cloneUrl: git.url(name),
    credential: git.credential,
  });
  if (res.status !== 201)
    throw new Error(`registering ${name} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res;
}

/** The settings that run sessions in docker sandboxes of the test image, the agent's model calls going to `model`. */
export const dockerModelEnv = (model: ModelServer, upstreamKey = "test-upstream-key") => ({
  SANDBOX_PROVIDER: "docker",
  SANDBOX_IMAGE,
  MODEL_UPSTREAM_URL: model.url,
  MODEL_UPSTREAM_API_KEY: upstreamKey,
  AGENT_MODEL: "test-model",
});

/** The session's row, read from the database; there must be one. */
export async function sessionRow(stack: Pick<Stack, "rt">, id: string) {
  const [row] = await stack.rt.database.db
    .select()
    .from(schema.sessions)
    .where(eq(schema.sessions.id, id));
  if (!row) throw new Error(`there is no session ${id}`);
  return row;
}

/** Waits until the database says session `id` is `status`. */
export const waitForStatus = (
  stack: Pick<Stack, "rt">,
  id: string,
  status: string,
  timeoutMs = 20_000,
) =>
  until(
    `session ${status}`,
    async () => (await sessionRow(stack, id)).status === status,
    timeoutMs,
  );

/** Waits, through the API, for session `id`'s first turn to end (idle); a failed session fails the wait. */
export const waitFirstTurn = (stack: Pick<Stack, "owner">, id: string, timeoutMs = 120_000) =>
  until(
    "the first turn to end",
    async () => {
      const s = (await stack.owner.request("GET", `/api/sessions/${id}`)).body.status;
      if (s === "failed") throw new Error("session failed");
      return s === "idle";
    },
    timeoutMs,
  );

/**
 * The session bound to a conversation: `threadKey` as its provider names it (Slack
 * `team:channel:thread ts`, GitHub `owner/repo#number`), only `provider`'s when given.
 */
export async function sessionOfThread(
  stack: Pick<Stack, "rt">,
  threadKey: string,
  provider?: string,
) {
  const [row] = await stack.rt.database.db
    .select({ session: schema.sessions })
    .from(schema.sessionBindings)
    .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
    .where(
      and(
        eq(schema.sessionBindings.threadKey, threadKey),
        provider ? eq(schema.sessionBindings.provider, provider) : undefined,
      ),
    );
  return row?.session;
}

/** Session `id`'s sandbox row (the first the database returns), if it has one. */
export const sandboxOf = async (stack: Pick<Stack, "rt">, id: string) =>
  (
    await stack.rt.database.db
      .select()
      .from(schema.sandboxes)
      .where(eq(schema.sandboxes.sessionId, id))
  )[0];

/** Session `id`'s events, in the order the database returns them. */
export const sessionEvents = (stack: Pick<Stack, "rt">, id: string) =>
  stack.rt.database.db
    .select()
    .from(schema.sessionEvents)
    .where(eq(schema.sessionEvents.sessionId, id));

/**
 * Session `id` fails with `error`, and its status event is committed but never published (as
 * when pub/sub drops it), 10 s ago: only a catch-up from the event log can tell anyone.
 */
export async function failWithoutPublishing(stack: Pick<Stack, "rt">, id: string, error: string) {
  await stack.rt.database.db.transaction(async (tx) => {
    const [row] = await tx
      .update(schema.sessions)
      .set({
        lastEventSeq: sql`${schema.sessions.lastEventSeq} + 1`,
        status: "failed",
        error,
        updatedAt: new Date(Date.now() - 10_000),
      })
      .where(eq(schema.sessions.id, id))
      .returning();
    await tx.insert(schema.sessionEvents).values({
      sessionId: id,
      seq: row!.lastEventSeq,
      type: "status",
      data: { type: "status", status: "failed" },
    });
  });
}

/**
 * Version 1 of a new profile `name`, published with `spec` and a snapshot committed as queued
 * but never enqueued (as if Redis was away at publish time): only the sweep can build it.
 */
export async function publishedWithoutBuildJob(
  stack: Pick<Stack, "rt">,
  name: string,
  spec: Record<string, unknown>,
) {
  const { db } = stack.rt.database;
  const [profileRow] = await db
    .insert(schema.sandboxProfiles)
    .values({ orgId: stack.rt.defaultOrgId, name })
    .returning();
  const [version] = await db
    .insert(schema.sandboxProfileVersions)
    .values({
      profileId: profileRow!.id,
      version: 1,
      status: "published",
      spec,
      publishedAt: new Date(),
    })
    .returning();
  await db.insert(schema.snapshots).values({ profileVersionId: version!.id });
  return version!;
}
