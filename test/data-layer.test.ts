import { readdirSync } from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acceptInbound,
  appendEvent,
  createSession,
  ensureDefaultOrganization,
  listEventsAfter,
  MIGRATIONS_DIR,
  openDatabase,
  registerRepository,
  schema,
  transitionSession,
  type SessionDeps,
} from "@tandem/core";
import { DB_KINDS, startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

describe.each(DB_KINDS)("data layer on %s", (kind) => {
  let rt: TestRuntime;
  let deps: SessionDeps;
  beforeAll(async () => {
    rt = await startTestRuntime(kind);
    deps = { ...rt, db: rt.database.db, publicUrl: rt.config.PUBLIC_URL };
    await registerRepository(rt.database.db, rt.defaultOrgId, {
      name: "acme/app",
      cloneUrl: "file:///srv/acme/app.git",
      defaultBranch: "main",
    });
  });
  afterAll(() => rt?.close());

  it("migrates an empty database to every table, and a second start applies nothing", async () => {
    expect(rt.database.kind).toBe(kind);
    const tables = await rt.database.db.execute<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    const names = rowsOf<{ table_name: string }>(tables).map((r) => r.table_name);
    for (const t of [
      "organizations",
      "users",
      "memberships",
      "org_settings",
      "installations",
      "repositories",
      "sandbox_profiles",
      "sandbox_profile_versions",
      "snapshots",
      "sessions",
      "session_bindings",
      "session_messages",
      "session_events",
      "sandboxes",
      "automations",
      "inbound_events",
      "outbound_messages",
      "api_tokens",
    ])
      expect(names).toContain(t);
    const migrationFiles = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith(".sql"));
    const applied = rowsOf<{ n: number }>(
      await rt.database.db.execute<{ n: number }>(
        sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
      ),
    );
    expect(applied[0]!.n).toBe(migrationFiles.length);
  });

  it("creates the default organization and its owner once", async () => {
    const again = await ensureDefaultOrganization(rt.database.db, "Default");
    expect(again.org.id).toBe(rt.defaultOrgId);
    expect(again.ownerId).toBe(rt.ownerId);
    const orgs = await rt.database.db.select().from(schema.organizations);
    expect(orgs.filter((o) => o.isDefault)).toHaveLength(1);
  });

  it("numbers a session's events 1..n even when appended concurrently", async () => {
    const session = await createSession(deps, {
      orgId: rt.defaultOrgId,
      repository: "acme/app",
      prompt: "hello",
    });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        appendEvent(deps, session.id, { type: "message", role: "assistant", text: `m${i}` }),
      ),
    );
    const events = await listEventsAfter(rt.database.db, session.id, 0);
    expect(events.map((e) => e.seq)).toEqual(
      Array.from({ length: events.length }, (_, i) => i + 1),
    );
    expect(events).toHaveLength(22); // the prompt, "queued", and the 20 above
    expect(events[0]!.body).toEqual({ type: "message", role: "user", text: "hello" });
    expect((await listEventsAfter(rt.database.db, session.id, 20)).map((e) => e.seq)).toEqual([
      21, 22,
    ]);
  });

  it("enforces the session state machine in the database update", async () => {
    const session = await createSession(deps, {
      orgId: rt.defaultOrgId,
      repository: "acme/app",
      prompt: "go",
    });
    expect(session.status).toBe("queued");
    await expect(transitionSession(deps, session, "idle")).rejects.toThrow(
      "a queued session cannot become idle",
    );
    const starting = await transitionSession(deps, session, "starting");
    // A stale copy still saying "queued" must not overwrite the newer state.
    await expect(transitionSession(deps, session, "starting")).rejects.toThrow(
      /changed state meanwhile/,
    );
    const stopped = await transitionSession(deps, starting, "stopped", "test");
    expect(stopped.endedAt).toBeInstanceOf(Date);
    await expect(transitionSession(deps, stopped, "running")).rejects.toThrow(
      "a stopped session cannot become running",
    );
    const statuses = (await listEventsAfter(rt.database.db, session.id, 0)).filter(
      (e) => e.body.type === "status",
    );
    expect(statuses.map((e) => (e.body as { status: string }).status)).toEqual([
      "queued",
      "starting",
      "stopped",
    ]);
  });

  it("commits an inbound delivery once; a repeated delivery id is a duplicate", async () => {
    const first = await acceptInbound(deps, {
      provider: "test",
      deliveryId: "d-1",
      payload: { a: 1 },
    });
    const again = await acceptInbound(deps, {
      provider: "test",
      deliveryId: "d-1",
      payload: { a: 1 },
    });
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, id: null });
    const rows = await rt.database.db.select().from(schema.inboundEvents);
    expect(rows.filter((r) => r.deliveryId === "d-1")).toHaveLength(1);
  });
});

it("PGlite keeps its data in the data directory across restarts", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const dir = mkdtempSync(`${(await import("node:os")).tmpdir()}/tandem-pglite-`);
  const first = await openDatabase({ dataDir: dir });
  const { org } = await ensureDefaultOrganization(first.db, "Persisted");
  await first.close();
  const second = await openDatabase({ dataDir: dir });
  const again = await ensureDefaultOrganization(second.db, "Persisted");
  expect(again.org.id).toBe(org.id);
  await second.close();
  rmSync(dir, { recursive: true, force: true });
});

function rowsOf<T>(result: unknown): T[] {
  // postgres.js returns an array of rows, PGlite an object with `rows`.
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;
}
