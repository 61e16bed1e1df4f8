import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import {
  createLogger,
  ensureDefaultOrganization,
  loadConfig,
  openRuntime,
  type ChatProvider,
  type Config,
  type Runtime,
} from "@tandem/core";
import { createProviders } from "@tandem/bot";

export type DbKind = "postgres" | "pglite";
export const DB_KINDS: DbKind[] = ["postgres", "pglite"];

const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export const randomSuffix = () => randomBytes(6).toString("hex");

/** A new, empty Postgres database on the machine's server; dropped by the returned function. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tandem_test_${randomSuffix()}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const a = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export interface TestRuntime extends Runtime {
  /** The providers this configuration sets up, as the entry points make them. */
  providers: ChatProvider[];
  ownerId: string;
  defaultOrgId: string;
}

/**
 * The real runtime on a fresh database (Postgres or PGlite in a temp dir), the machine's Redis
 * under a unique key prefix, and a silent logger.
 */
export async function startTestRuntime(
  kind: DbKind,
  env: Record<string, string> = {},
): Promise<TestRuntime> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "tandem-test-"));
  const database = kind === "postgres" ? await createTestDatabase() : null;
  let config: Config;
  let rt: Awaited<ReturnType<typeof openRuntime>>;
  try {
    config = loadConfig({
      DATA_DIR: dataDir,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: `test-${randomSuffix()}`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
      PUBLIC_URL: "http://tandem.test",
      ...(database ? { DATABASE_URL: database.url } : {}),
      ...env,
    });
    rt = await openRuntime(config, createLogger({ level: config.LOG_LEVEL, service: "test" }));
  } catch (err) {
    // A test given a bad setting leaves nothing behind either.
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const { org, ownerId } = await ensureDefaultOrganization(rt.database.db, "Default");
  return {
    ...rt,
    providers: createProviders(rt),
    ownerId,
    defaultOrgId: org.id,
    close: async () => {
      await rt.close();
      await database?.drop();
      await dropRedisPrefix(config.REDIS_URL!, config.REDIS_PREFIX);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Deletes every key under `prefix:` (the queues' keys), so a test leaves nothing in Redis; a Redis already gone has nothing to drop. */
export async function dropRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  } catch {
    // A test's private Redis that it stopped itself.
  } finally {
    redis.disconnect();
  }
}
