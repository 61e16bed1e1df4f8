import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { appendEvent, createSession, schema, transitionSession } from "@tandem/core";
import { apiClient, otherOrganization, type ApiClient } from "../helpers/api.ts";
import { defaultOrgMember, useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";
import { openSse } from "../helpers/sse.ts";

interface Row {
  id: string;
  title: string;
  status: string;
  source: string;
  repository: string;
  pullRequestUrl: string | null;
  diffStat: { files: number; additions: number; deletions: number } | null;
}

// The sessions list: titles, filters and search, and the live feed of an org's sessions.
describe.each(DB_KINDS)("the sessions list on %s", (kind) => {
  const api = useApiRuntime(kind);

  const start = async (client: ApiClient, prompt: string, repository = "acme/app") => {
    const res = await client.request("POST", "/api/sessions", { repository, prompt });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body.id as string;
  };
  const list = async (query = "") => {
    const res = await api.owner.request("GET", `/api/sessions${query}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.sessions as Row[];
  };
  const ids = (rows: Row[]) => rows.map((r) => r.id);

  it("calls a session by its prompt's first line until someone renames it", async () => {
    const { owner } = api;
    const id = await start(owner, `\n   Fix the login page   \n\nDetails: ${"x".repeat(200)}`);
    const long = await start(owner, "y".repeat(300));
    expect((await owner.request("GET", `/api/sessions/${id}`)).body.title).toBe(
      "Fix the login page",
    );
    expect((await owner.request("GET", `/api/sessions/${long}`)).body.title).toBe("y".repeat(120));

    const renamed = await owner.request("PATCH", `/api/sessions/${id}`, {
      title: "  Login page fix  ",
    });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, title: "Login page fix" });
    expect((await owner.request("GET", `/api/sessions/${id}`)).body.title).toBe("Login page fix");
    expect((await list()).find((s) => s.id === id)!.title).toBe("Login page fix");
  });

  it("refuses a bad title with what is wrong, hides other orgs' sessions and lets members rename only theirs", async () => {
    const { rt, app, owner } = api;
    const id = await start(owner, "Rename me");
    const bad = async (body: unknown) => {
      const res = await owner.request("PATCH", `/api/sessions/${id}`, body);
      expect(res.status).toBe(400);
      return res.body.error.message as string;
    };
    expect(await bad({ title: "   " })).toMatch(/title: title must not be empty/);
    expect(await bad({ title: "t".repeat(201) })).toMatch(/title: title must be at most 200/);
    expect(await bad({ title: 42 })).toMatch(/title/);
    expect(await bad({})).toMatch(/title/);
    expect(await bad({ title: "ok", status: "stopped" })).toMatch(/unknown field status/);
    expect(
      (await owner.request("PATCH", `/api/sessions/${id}`, { title: "t".repeat(200) })).status,
    ).toBe(200);

    const mallory = apiClient(app, (await otherOrganization(rt)).token);
    const foreign = await mallory.request("PATCH", `/api/sessions/${id}`, { title: "mine now" });
    expect(foreign.status).toBe(404);
    expect((await owner.request("GET", `/api/sessions/${id}`)).body.title).toBe("t".repeat(200));

    const member = await defaultOrgMember(api, "renamer");
    expect((await member.request("PATCH", `/api/sessions/${id}`, { title: "x" })).status).toBe(403);
    const own = await start(member, "A member's own task");
    const mine = await member.request("PATCH", `/api/sessions/${own}`, { title: "Mine" });
    expect(mine.status).toBe(200);
    expect(mine.body.title).toBe("Mine");
  });

  it("filters by status, source and repository, searches title and task, and pages with before", async () => {
    const { rt, owner } = api;
    const { db } = rt.database;
    await owner.request("POST", "/api/repositories", {
      name: "acme/site",
      cloneUrl: "https://git.example.test/acme/site.git",
    });
    const tag = `zq${Date.now()}`;
    const failed = await start(owner, `${tag} broken build`);
    await transitionSession(
      { db, bus: rt.bus, logger: rt.logger, clock: rt.clock },
      { id: failed, status: "queued" },
      "failed",
      "snapshot_missing",
    );
    const onSite = await start(owner, `${tag} 100%_done on the site`, "acme/site");
    const fromSlack = (
      await createSession(
        {
          db,
          bus: rt.bus,
          queues: rt.queues,
          logger: rt.logger,
          clock: rt.clock,
          publicUrl: rt.config.PUBLIC_URL,
        },
        {
          orgId: rt.defaultOrgId,
          repository: "acme/app",
          prompt: `${tag} from chat`,
          source: "slack",
        },
      )
    ).id;
    const renamed = await start(owner, "nothing to see");
    await owner.request("PATCH", `/api/sessions/${renamed}`, { title: `${tag} Renamed ONE` });

    expect(ids(await list(`?q=${tag}`))).toEqual([renamed, fromSlack, onSite, failed]);
    expect(ids(await list(`?q=${tag.toUpperCase()}%20renamed`))).toEqual([renamed]);
    expect(ids(await list(`?q=BROKEN`))).toEqual([failed]);
    // % and _ are literal characters, not LIKE wildcards.
    expect(ids(await list(`?q=${encodeURIComponent("100%_done")}`))).toEqual([onSite]);
    expect(await list(`?q=${encodeURIComponent("%")}&repository=acme/app`)).toEqual([]);
    const failedRows = await list(`?status=failed&q=${tag}`);
    expect(failedRows).toMatchObject([{ id: failed, status: "failed", error: "snapshot_missing" }]);
    expect(ids(await list(`?status=failed,queued&q=${tag}`))).toEqual([
      renamed,
      fromSlack,
      onSite,
      failed,
    ]);
    expect(ids(await list(`?source=slack&q=${tag}`))).toEqual([fromSlack]);
    expect(ids(await list(`?source=api,slack&status=queued&q=${tag}`))).toEqual([
      renamed,
      fromSlack,
      onSite,
    ]);
    expect(ids(await list(`?repository=acme/site`))).toEqual([onSite]);
    expect(ids(await list(`?repository=acme/nowhere`))).toEqual([]);

    const first = await owner.request("GET", `/api/sessions?q=${tag}&limit=3`);
    expect(ids(first.body.sessions)).toEqual([renamed, fromSlack, onSite]);
    const rest = await owner.request(
      "GET",
      `/api/sessions?q=${tag}&limit=3&before=${first.body.nextBefore}`,
    );
    expect(ids(rest.body.sessions)).toEqual([failed]);
    expect(rest.body.nextBefore).toBeNull();

    for (const [query, field] of [
      ["status=done", /status\.0: status must be one of queued, starting/],
      ["status=queued,nope", /status\.1: status must be one of/],
      ["source=Slack!", /source\.0: source must be/],
      ["repository=nope", /repository: repository must look like owner\/repo/],
      [`q=${"q".repeat(201)}`, /q: q must be at most 200/],
      ["before=yesterday", /before: before must be an ISO date-time/],
      ["colour=red", /unknown field colour/],
    ] as const) {
      const res = await owner.request("GET", `/api/sessions?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.message, query).toMatch(field);
    }
  });

  it("shows a session's pull request and its last diff stats", async () => {
    const { rt, owner } = api;
    const { db } = rt.database;
    const id = await start(owner, "Change two files");
    expect((await owner.request("GET", `/api/sessions/${id}`)).body).toMatchObject({
      pullRequestUrl: null,
      diffStat: null,
    });
    const deps = { db, bus: rt.bus, logger: rt.logger };
    await appendEvent(deps, id, {
      type: "diff_stat",
      files: [{ path: "a.ts", added: 1, removed: 0 }],
    });
    await appendEvent(deps, id, {
      type: "diff_stat",
      files: [
        { path: "a.ts", added: 10, removed: 2 },
        { path: "b.ts", added: 2, removed: 1 },
      ],
    });
    await db
      .update(schema.sessions)
      .set({ pullRequestUrl: "https://github.com/acme/app/pull/7" })
      .where(eq(schema.sessions.id, id));
    const row = (await list()).find((s) => s.id === id)!;
    expect(row.diffStat).toEqual({ files: 2, additions: 12, deletions: 3 });
    expect(row.pullRequestUrl).toBe("https://github.com/acme/app/pull/7");
  });

  describe("live", () => {
    const listen = async (token: string) => {
      const base = api.app.server.listening
        ? `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`
        : await api.app.listen({ port: 0, host: "127.0.0.1" });
      const stream = await openSse(`${base}/api/sessions/stream`, {
        authorization: `Bearer ${token}`,
      });
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      return stream;
    };
    /** Waits for the frame that shows `id` after `change`. */
    const frameOf = async (
      stream: Awaited<ReturnType<typeof listen>>,
      id: string,
      change: string,
    ) => {
      for (let n = 1; ; n++) {
        const frames = await stream.waitFor(n);
        const hit = frames.find((f) => f.data.session.id === id && f.data.change === change);
        if (hit) return hit.data as { change: string; session: Row & { error: string | null } };
      }
    };

    it("streams the org's new sessions and their changes, and nothing to another org", async () => {
      const { rt, app, owner } = api;
      const other = await otherOrganization(rt);
      const mallory = apiClient(app, other.token);
      await mallory.request("POST", "/api/repositories", {
        name: "mallory/app",
        cloneUrl: "https://git.example.test/mallory/app.git",
      });
      const ours = await listen(owner.token);
      const theirs = await listen(mallory.token);
      try {
        const id = await start(owner, "Live one\nmore detail");
        const created = await frameOf(ours, id, "created");
        expect(created.session).toMatchObject({
          id,
          title: "Live one",
          status: "queued",
          source: "api",
          repository: "acme/app",
        });

        await owner.request("POST", `/api/sessions/${id}/stop`);
        expect((await frameOf(ours, id, "status")).session.status).toBe("stopped");
        await owner.request("PATCH", `/api/sessions/${id}`, { title: "Renamed live" });
        expect((await frameOf(ours, id, "title")).session.title).toBe("Renamed live");
        expect((await owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(204);
        expect((await frameOf(ours, id, "deleted")).session).toEqual({ id });

        const failing = await start(owner, "Will fail");
        await transitionSession(
          { db: rt.database.db, bus: rt.bus, logger: rt.logger, clock: rt.clock },
          { id: failing, status: "queued" },
          "failed",
          "agent exited with 1",
        );
        expect((await frameOf(ours, failing, "status")).session).toMatchObject({
          status: "failed",
          error: "agent exited with 1",
        });

        // Mallory's session reaches only Mallory's stream, and none of ours reached hers.
        const hers = await start(mallory, "Hers", "mallory/app");
        await frameOf(theirs, hers, "created");
        await new Promise((r) => setTimeout(r, 300));
        expect(theirs.frames.map((f) => f.data.session.id)).toEqual([hers]);
        expect(ours.frames.map((f) => f.data.session.id)).not.toContain(hers);
      } finally {
        await ours.close();
        await theirs.close();
      }
    });

    it("drops a malformed bus message and keeps streaming", async () => {
      const { rt, owner } = api;
      const stream = await listen(owner.token);
      try {
        const channel = `${rt.config.REDIS_PREFIX}:org:${rt.defaultOrgId}:sessions`;
        await rt.redis.publish(channel, "not json {");
        await rt.redis.publish(
          channel,
          JSON.stringify({ orgId: rt.defaultOrgId, sessionId: "nope", kind: "created" }),
        );
        await rt.redis.publish(channel, JSON.stringify({ orgId: rt.defaultOrgId, kind: "status" }));
        await rt.redis.publish(channel, "null");
        const id = await start(owner, "After the garbage");
        await frameOf(stream, id, "created");
        expect(stream.frames.map((f) => f.data.session.id)).toEqual([id]);
        const health = await owner.request("GET", "/readyz");
        expect(health.status).toBe(200);
      } finally {
        await stream.close();
      }
    });
  });
});
