import { and, eq } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClient,
  buildTestApp,
  otherOrganization,
  ownerToken,
  type ApiClient,
} from "./helpers/api.ts";
import { issueToken, schema, transitionSession } from "@tandem/core";
import { appKeys, githubAppEnv } from "./helpers/github.ts";
import { DB_KINDS, startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

const ADMIN_TOKEN = "admin-token-for-tests-only-0123456789";

describe.each(DB_KINDS)("API on %s", (kind) => {
  let rt: TestRuntime;
  let app: FastifyInstance;
  let owner: ApiClient;
  beforeAll(async () => {
    // Slack and GitHub configured (never called here), for the links back to their threads.
    rt = await startTestRuntime(kind, {
      ADMIN_TOKEN,
      SLACK_BOT_TOKEN: "xoxb-test-token",
      SLACK_SIGNING_SECRET: "test-signing-secret",
      ...githubAppEnv("http://127.0.0.1:9", appKeys().privateKey),
    });
    app = await buildTestApp(rt);
    owner = apiClient(app, await ownerToken(rt));
    const created = await owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
      defaultBranch: "main",
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
  });

  describe("authentication", () => {
    it("answers 401 without a token, with a bad token, and with a malformed header", async () => {
      for (const headers of [
        {},
        { authorization: "Bearer tdm_not-a-real-token" },
        { authorization: "Basic abc" },
      ]) {
        const res = await app.inject({ method: "GET", url: "/api/sessions", headers });
        expect(res.statusCode).toBe(401);
        expect(res.json().error.code).toBe("unauthorized");
      }
    });

    it("accepts ADMIN_TOKEN as the default organization's owner", async () => {
      const res = await apiClient(app, ADMIN_TOKEN).request("GET", "/api/me");
      expect(res.status).toBe(200);
      expect(res.body.userId).toBe(rt.ownerId);
      expect(res.body.organizations).toEqual([
        expect.objectContaining({ id: rt.defaultOrgId, role: "owner" }),
      ]);
    });
  });

  describe("repositories", () => {
    it("registers https, ssh, scp-like and file remotes and lists them", async () => {
      const remotes = {
        "acme/ssh": "ssh://git@git.example.test/acme/ssh.git",
        "acme/scp": "git@git.example.test:acme/scp.git",
        "acme/local": "file:///srv/git/local.git",
      };
      for (const [name, cloneUrl] of Object.entries(remotes)) {
        const res = await owner.request("POST", "/api/repositories", { name, cloneUrl });
        expect(res.status).toBe(201);
        expect(res.body).toEqual({ id: expect.any(String), name });
      }
      const list = await owner.request("GET", "/api/repositories");
      expect(list.body.repositories.map((r: { name: string }) => r.name)).toEqual([
        "acme/app",
        "acme/local",
        "acme/scp",
        "acme/ssh",
      ]);
      expect(
        list.body.repositories.find((r: { name: string }) => r.name === "acme/local").defaultBranch,
      ).toBe("main");
    });

    it("answers 409 for a name registered twice", async () => {
      const res = await owner.request("POST", "/api/repositories", {
        name: "acme/app",
        cloneUrl: "https://git.example.test/x.git",
      });
      expect(res.status).toBe(409);
    });
  });

  describe("validation", () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      [
        "POST",
        "/api/repositories",
        { name: "not a repo", cloneUrl: "https://x.test/a.git" },
        /name must look like owner\/repo/,
      ],
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "ftp://x.test/a.git" },
        /cloneUrl must be/,
      ],
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "https://x.test/a.git", extra: 1 },
        /unknown field extra/,
      ],
      // A password in the URL would travel into the sandbox with the remote: credentials go in `credential`.
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "https://bob:hunter2@x.test/a.git" },
        /cloneUrl must not carry a user:password part/,
      ],
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "https://x-access-token@x.test/a.git" },
        /cloneUrl must not carry a user:password part/,
      ],
      ["POST", "/api/sessions", { repository: "acme/app" }, /prompt/],
      [
        "POST",
        "/api/sessions",
        { repository: "acme/app", prompt: "   " },
        /prompt must not be empty/,
      ],
      [
        "POST",
        "/api/sessions",
        { repository: "acme/app", prompt: "x", model: "y" },
        /unknown field model/,
      ],
      ["POST", "/api/sessions", "{not json", /JSON/i],
      ["POST", "/api/sessions", [1, 2], /expected object/i],
      ["GET", "/api/sessions/not-a-uuid", undefined, /session id must be a UUID/],
      ["GET", "/api/sessions?limit=0", undefined, /limit/],
      ["POST", "/api/orgs", { name: "" }, /name/],
    ];
    it.each(cases)("%s %s %j → 400 with a message", async (method, url, body, message) => {
      const res = await owner.request(method, url, body);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(message);
    });

    it("answers 404 with a message for an unknown repository", async () => {
      const res = await owner.request("POST", "/api/sessions", {
        repository: "acme/nope",
        prompt: "hi",
      });
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe("repository acme/nope not found");
    });
  });

  describe("sessions", () => {
    it("creates a queued session with its URL, shows and lists it, takes messages, stops", async () => {
      const created = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "Fix the flaky test",
      });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(String),
        status: "queued",
        url: `http://tandem.test/sessions/${created.body.id}`,
      });
      const id = created.body.id;

      const shown = await owner.request("GET", `/api/sessions/${id}`);
      expect(shown.body).toMatchObject({
        id,
        status: "queued",
        repository: "acme/app",
        url: created.body.url,
        prompt: "Fix the flaky test",
      });
      const list = await owner.request("GET", "/api/sessions");
      expect(list.body.sessions.map((s: { id: string }) => s.id)).toContain(id);

      const msg = await owner.request("POST", `/api/sessions/${id}/messages`, {
        text: "Also update the changelog",
      });
      expect(msg.status).toBe(202);
      const stopped = await owner.request("POST", `/api/sessions/${id}/stop`);
      expect(stopped.body).toEqual({ id, status: "stopped" });
      const afterStop = await owner.request("POST", `/api/sessions/${id}/messages`, {
        text: "more",
      });
      expect(afterStop.status).toBe(409);
      expect(afterStop.body.error.message).toMatch(/session is stopped/);
    });

    it("gives an org from before profiles its default profile on its first session", async () => {
      const { db } = rt.database;
      const other = await otherOrganization(rt);
      await db.delete(schema.sandboxProfiles).where(eq(schema.sandboxProfiles.orgId, other.org.id)); // as before profiles existed
      const mallory = apiClient(app, other.token);
      await mallory.request("POST", "/api/repositories", {
        name: "mallory/app",
        cloneUrl: "https://git.example.test/mallory/app.git",
      });
      const created = await mallory.request("POST", "/api/sessions", {
        repository: "mallory/app",
        prompt: "hi",
      });
      expect(created.status).toBe(201);
      const [row] = await db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.id, created.body.id));
      const defaultView = (await mallory.request("GET", "/api/profiles/default")).body;
      expect(defaultView).toMatchObject({ inUse: 1, published: [{ version: 1 }] });
      expect(row!.profileVersionId).toBe(defaultView.published[0].id);
    });

    it("a stop always wins, even while a worker moves the session at the same moment", async () => {
      const { db } = rt.database;
      const deps = { db, bus: rt.bus, logger: rt.logger, clock: rt.clock };
      for (let i = 0; i < 40; i++) {
        const id = (
          await owner.request("POST", "/api/sessions", {
            repository: "acme/app",
            prompt: `race ${i}`,
          })
        ).body.id as string;
        await db
          .update(schema.sessions)
          .set({ status: "running" })
          .where(eq(schema.sessions.id, id));
        // The worker's turn ends (running → idle) while the stop is on its way; either may commit first.
        const worker = new Promise((r) => setTimeout(r, i % 8))
          .then(() => transitionSession(deps, { id, status: "running" }, "idle"))
          .catch(() => null);
        const [stopped] = await Promise.all([
          owner.request("POST", `/api/sessions/${id}/stop`),
          worker,
        ]);
        expect(stopped.body, `attempt ${i}`).toEqual({ id, status: "stopped" });
        expect(
          (await db.query.sessions.findFirst({ where: eq(schema.sessions.id, id) }))!.status,
        ).toBe("stopped");
      }
    });

    it("links each session back to its Slack thread or GitHub issue and names who started it", async () => {
      const start = async (prompt: string) =>
        (await owner.request("POST", "/api/sessions", { repository: "acme/app", prompt })).body
          .id as string;
      const [slack, github, plain] = [
        await start("from slack"),
        await start("from github"),
        await start("from the api"),
      ];
      await rt.database.db.insert(schema.sessionBindings).values([
        { sessionId: slack, provider: "slack", threadKey: "T1:C2:1700000000.000100" },
        { sessionId: github, provider: "github", threadKey: "acme/app#42" },
      ]);
      const owner_ = await rt.database.db.query.users.findFirst({
        where: (u, { eq }) => eq(u.id, rt.ownerId),
      });
      const { sessions } = (await owner.request("GET", "/api/sessions")).body as {
        sessions: Array<{ id: string; origin: unknown; createdBy: unknown }>;
      };
      const byId = new Map(sessions.map((s) => [s.id, s]));
      expect(byId.get(slack)!.origin).toEqual({
        provider: "slack",
        url: "https://slack.com/app_redirect?team=T1&channel=C2&message_ts=1700000000.000100",
      });
      expect(byId.get(github)!.origin).toEqual({
        provider: "github",
        url: "https://github.com/acme/app/issues/42",
      });
      expect(byId.get(plain)!.origin).toBeNull();
      expect(byId.get(plain)!.createdBy).toEqual({
        name: owner_!.name,
        login: owner_!.githubLogin,
      });
      const shown = await owner.request("GET", `/api/sessions/${github}`);
      expect(shown.body).toMatchObject({
        origin: { provider: "github", url: "https://github.com/acme/app/issues/42" },
        createdBy: { name: owner_!.name },
      });
    });

    it("lists every profile with whether it can start a session, and starts sessions on the newest ready version", async () => {
      const { db } = rt.database;
      const [ready] = await db
        .insert(schema.sandboxProfiles)
        .values({ orgId: rt.defaultOrgId, name: "node-22" })
        .returning();
      const [draftOnly] = await db
        .insert(schema.sandboxProfiles)
        .values({ orgId: rt.defaultOrgId, name: "wip" })
        .returning();
      await db.insert(schema.sandboxProfileVersions).values([
        { profileId: ready!.id, version: 1, status: "published" },
        { profileId: ready!.id, version: 2, status: "published" },
        { profileId: ready!.id, version: 3, status: "draft" },
        { profileId: draftOnly!.id, version: 1, status: "draft" },
      ]);
      expect((await owner.request("GET", "/api/profiles")).body).toEqual({
        profiles: [
          {
            name: "default",
            active: true,
            version: 1,
            repository: null,
            latest: { version: 1, snapshot: "ready" },
            startable: true,
            reason: null,
          },
          {
            name: "node-22",
            active: true,
            version: null,
            repository: null,
            latest: { version: 2, snapshot: null },
            startable: false,
            reason: "profile node-22 v2 has no ready snapshot yet (status: none)",
          },
          {
            name: "wip",
            active: true,
            version: null,
            repository: null,
            latest: null,
            startable: false,
            reason: "profile wip has no published version yet",
          },
        ],
      });
      // Another org sees only its own default profile.
      const mallory = apiClient(app, (await otherOrganization(rt)).token);
      expect(
        (await mallory.request("GET", "/api/profiles")).body.profiles.map(
          (p: { name: string }) => p.name,
        ),
      ).toEqual(["default"]);

      const [v2] = await db
        .select()
        .from(schema.sandboxProfileVersions)
        .where(
          and(
            eq(schema.sandboxProfileVersions.profileId, ready!.id),
            eq(schema.sandboxProfileVersions.version, 2),
          ),
        );
      const notBuilt = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
        profile: "node-22",
      });
      expect(notBuilt.status).toBe(409);
      expect(notBuilt.body.error.message).toBe(
        "profile node-22 v2 has no ready snapshot yet (status: none)",
      );
      await db.insert(schema.snapshots).values({
        profileVersionId: v2!.id,
        status: "ready",
        imageRef: "tandem/snapshot:test-1",
        finishedAt: new Date(),
      });

      const created = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
        profile: "node-22",
      });
      expect(created.status).toBe(201);
      const [row] = await db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.id, created.body.id));
      expect(row!.profileVersionId).toBe(v2!.id);
      const unpublished = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
        profile: "wip",
      });
      expect(unpublished.status).toBe(409);
      expect(unpublished.body.error.message).toBe("profile wip has no published version yet");
      // Without a profile, the session starts on the org's default profile, and records its version.
      const plain = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
      });
      const [plainRow] = await db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.id, plain.body.id));
      const defaultView = (await owner.request("GET", "/api/profiles/default")).body;
      expect(defaultView).toMatchObject({
        inUse: 1,
        published: [
          {
            version: 1,
            spec: { setupScript: "", agent: {}, repositories: [] },
            snapshot: { status: "ready", imageRef: null },
          },
        ],
      });
      expect(plainRow!.profileVersionId).toBe(defaultView.published[0].id);
      await db
        .update(schema.sandboxProfiles)
        .set({ active: false })
        .where(eq(schema.sandboxProfiles.id, ready!.id));
      const inactive = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
        profile: "node-22",
      });
      expect(inactive.status).toBe(409);
      expect(inactive.body.error.message).toBe("profile node-22 is inactive");
    });

    it("starts on the profile's primary repository when the request names none, and says so when there is none", async () => {
      const { db } = rt.database;
      const none = await owner.request("POST", "/api/sessions", { prompt: "hi" });
      expect(none.status).toBe(400);
      expect(none.body.error.message).toBe(
        "name a repository (owner/repo): profile default v1 has no repositories to start on",
      );

      await owner.request("POST", "/api/repositories", {
        name: "acme/tools",
        cloneUrl: "https://git.example.test/tools.git",
      });
      const [profile] = await db
        .insert(schema.sandboxProfiles)
        .values({ orgId: rt.defaultOrgId, name: "mono" })
        .returning();
      const [version] = await db
        .insert(schema.sandboxProfileVersions)
        .values({
          profileId: profile!.id,
          version: 1,
          status: "published",
          spec: {
            repositories: [{ name: "acme/app" }, { name: "acme/tools", primary: true }],
            agent: { kind: "claude-code", model: "m" },
          },
        })
        .returning();
      await db.insert(schema.snapshots).values({
        profileVersionId: version!.id,
        status: "ready",
        imageRef: "tandem/snapshot:mono-1",
        finishedAt: new Date(),
      });
      const created = await owner.request("POST", "/api/sessions", {
        prompt: "hi",
        profile: "mono",
      });
      expect(created.status).toBe(201);
      const shown = await owner.request("GET", `/api/sessions/${created.body.id}`);
      expect(shown.body).toMatchObject({ repository: "acme/tools", agent: "claude-code" });
      // A named repository wins over the primary one.
      const named = await owner.request("POST", "/api/sessions", {
        prompt: "hi",
        profile: "mono",
        repository: "acme/app",
      });
      expect((await owner.request("GET", `/api/sessions/${named.body.id}`)).body.repository).toBe(
        "acme/app",
      );
    });

    it("hides another organization's session behind 404 on every route", async () => {
      const created = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "secret work",
      });
      const mallory = apiClient(app, (await otherOrganization(rt)).token);
      const id = created.body.id;
      for (const [method, url, body] of [
        ["GET", `/api/sessions/${id}`, undefined],
        ["POST", `/api/sessions/${id}/messages`, { text: "hi" }],
        ["POST", `/api/sessions/${id}/stop`, undefined],
        ["GET", `/api/sessions/${id}/events`, undefined],
        ["DELETE", `/api/sessions/${id}`, undefined],
      ] as const) {
        const res = await mallory.request(method, url, body);
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.body.error.message).toBe("session not found");
      }
      expect((await mallory.request("GET", "/api/sessions")).body.sessions).toEqual([]);
      expect((await mallory.request("GET", "/api/repositories")).body.repositories).toEqual([]);
      // Naming the other org explicitly does not help either.
      const asOwnerOrg = await mallory.request("GET", "/api/sessions", undefined, {
        "x-tandem-org": rt.defaultOrgId,
      });
      expect(asOwnerOrg.status).toBe(404);
      expect((await owner.request("GET", `/api/sessions/${id}`)).body.status).toBe("queued");
    });

    it("deletes only ended sessions, with their messages and events", async () => {
      const created = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "short-lived",
      });
      const id = created.body.id;
      const live = await owner.request("DELETE", `/api/sessions/${id}`);
      expect(live.status).toBe(409);
      expect(live.body.error.message).toBe(
        `session is queued; stop it first (POST /api/sessions/${id}/stop), then delete it`,
      );
      await owner.request("POST", `/api/sessions/${id}/stop`);
      expect((await owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(204);
      expect((await owner.request("GET", `/api/sessions/${id}`)).status).toBe(404);
      expect(
        await rt.database.db
          .select()
          .from(schema.sessionEvents)
          .where(eq(schema.sessionEvents.sessionId, id)),
      ).toEqual([]);
      expect((await owner.request("DELETE", `/api/sessions/${id}`)).status).toBe(404);
      expect((await owner.request("DELETE", "/api/sessions/not-a-uuid")).status).toBe(400);
    });
  });

  describe("sandbox profiles", () => {
    it("creates a profile with an empty draft, validates drafts, and publishes idempotently", async () => {
      const created = await owner.request("POST", "/api/profiles", { name: "py-312" });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        name: "py-312",
        published: [],
        inUse: null,
        draft: { version: 1, status: "draft", spec: { setupScript: "", env: {} }, snapshot: null },
      });
      expect((await owner.request("POST", "/api/profiles", { name: "py-312" })).status).toBe(409);

      const spec = {
        setupScript: "pip install uv",
        env: { PIP_NO_CACHE_DIR: "1" },
        limits: { cpus: 1, pids: 256 },
        idleMinutes: 30,
      };
      const put = await owner.request("PUT", "/api/profiles/py-312/draft", { spec });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ version: 1, status: "draft", spec });

      const published = await owner.request("POST", "/api/profiles/py-312/publish");
      expect(published.status).toBe(202);
      expect(published.body).toMatchObject({
        version: 1,
        status: "published",
        spec,
        snapshot: { status: "queued" },
      });
      const job = await rt.queues.snapshots.getJob(`snapshot-${published.body.id}`);
      expect(job?.data).toEqual({ snapshotId: published.body.snapshot.id });
      // Nothing new in the draft: the same version and the same snapshot, not a second build.
      const again = await owner.request("POST", "/api/profiles/py-312/publish");
      expect(again.body).toMatchObject({
        id: published.body.id,
        snapshot: { id: published.body.snapshot.id },
      });

      const shown = await owner.request("GET", "/api/profiles/py-312");
      expect(shown.body).toMatchObject({
        draft: { version: 2, status: "draft", spec, snapshot: null },
        published: [{ version: 1, snapshot: { status: "queued" } }],
        inUse: null,
      });
      const refused = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
        profile: "py-312",
      });
      expect(refused.status).toBe(409);
      expect(refused.body.error.message).toBe(
        "profile py-312 v1 has no ready snapshot yet (status: queued)",
      );

      // A refresh while the build is queued is that build, not a second one.
      const refreshed = await owner.request("POST", "/api/profiles/py-312/refresh");
      expect(refreshed.status).toBe(202);
      expect(refreshed.body).toMatchObject({
        version: 1,
        versionId: published.body.id,
        snapshot: { id: published.body.snapshot.id, status: "queued", trigger: "publish" },
      });
      expect(
        (await owner.request("GET", "/api/profiles/py-312/versions/1/snapshots")).body,
      ).toMatchObject({
        version: 1,
        status: "published",
        snapshots: [
          {
            id: published.body.snapshot.id,
            status: "queued",
            trigger: "publish",
            imageRef: null,
            log: "",
          },
        ],
      });

      // A refresh schedule is one BullMQ job scheduler per profile, gone when cleared.
      const [row] = await rt.database.db
        .select()
        .from(schema.sandboxProfiles)
        .where(eq(schema.sandboxProfiles.name, "py-312"));
      const scheduled = await owner.request("PATCH", "/api/profiles/py-312", {
        refreshCron: "  0 3 * * 1 ",
      });
      expect(scheduled.status).toBe(200);
      expect(scheduled.body).toMatchObject({
        name: "py-312",
        active: true,
        refreshCron: "0 3 * * 1",
      });
      expect(await rt.queues.snapshots.getJobScheduler(`profile-refresh-${row!.id}`)).toMatchObject(
        { pattern: "0 3 * * 1", tz: "UTC" },
      );
      await owner.request("PATCH", "/api/profiles/py-312", { refreshCron: "30 4 * * *" });
      expect(
        (await rt.queues.snapshots.getJobSchedulers()).filter(
          (j) => j.key === `profile-refresh-${row!.id}`,
        ),
      ).toMatchObject([{ pattern: "30 4 * * *" }]);
      expect(
        (await owner.request("PATCH", "/api/profiles/py-312", { refreshCron: null })).body,
      ).toMatchObject({ refreshCron: null });
      expect(await rt.queues.snapshots.getJobScheduler(`profile-refresh-${row!.id}`)).toBeFalsy();
      await job?.remove();
    });

    it("answers 400 for invalid input, 404 for unknown profiles and 403 to non-admins", async () => {
      await owner.request("POST", "/api/profiles", { name: "checked" });
      const cases: Array<[string, string, unknown, RegExp]> = [
        ["POST", "/api/profiles", { name: "Not Valid" }, /name must be/],
        ["POST", "/api/profiles", { name: "ok", extra: 1 }, /unknown field extra/],
        ["PUT", "/api/profiles/checked/draft", {}, /spec/],
        ["PUT", "/api/profiles/checked/draft", { spec: { setupScript: 1 } }, /spec\.setupScript/],
        [
          "PUT",
          "/api/profiles/checked/draft",
          { spec: { env: { "BAD-NAME": "x" } } },
          /env names must be/,
        ],
        [
          "PUT",
          "/api/profiles/checked/draft",
          { spec: { limits: { cpus: -1 } } },
          /spec\.limits\.cpus/,
        ],
        ["PUT", "/api/profiles/checked/draft", { spec: { secrets: {} } }, /unknown field secrets/],
        ["PUT", "/api/profiles/checked/draft", { spec: { image: "bad image" } }, /image must be/],
        [
          "PUT",
          "/api/profiles/checked/draft",
          {
            spec: { repositories: [{ name: "acme/app" }, { name: "acme/ghost" }, { name: "x/y" }] },
          },
          /^unknown repositories acme\/ghost, x\/y: register them first \(POST \/api\/repositories\)$/,
        ],
        [
          "PUT",
          "/api/profiles/checked/draft",
          { spec: { repositories: [{ name: "acme/ghost" }] } },
          /^unknown repository acme\/ghost: register it first/,
        ],
        [
          "PUT",
          "/api/profiles/checked/draft",
          { spec: { persistent: { enabled: true, paths: ["/"] } } },
          /a persistent path cannot be \//,
        ],
        [
          "PUT",
          "/api/profiles/checked/draft",
          { spec: { persistent: { enabled: true, paths: ["/home/agent", "/home/agent/"] } } },
          /persistent paths listed twice: \/home\/agent/,
        ],
        [
          "PUT",
          "/api/profiles/checked/draft",
          { spec: { persistent: { enabled: true, paths: ["workspace"] } } },
          /paths must be absolute/,
        ],
        [
          "PUT",
          "/api/profiles/checked/draft",
          { spec: { limits: { diskBytes: 1024 } } },
          /spec\.limits\.diskBytes/,
        ],
        ["PATCH", "/api/profiles/checked", {}, /give active, refreshCron or both/],
        ["PATCH", "/api/profiles/checked", { active: "yes" }, /active/],
        [
          "PATCH",
          "/api/profiles/checked",
          { refreshCron: "every night" },
          /refreshCron "every night" must have 5 fields/,
        ],
        [
          "PATCH",
          "/api/profiles/checked",
          { refreshCron: "61 * * * *" },
          /refreshCron "61 \* \* \* \*" is not a valid cron expression/,
        ],
        ["PATCH", "/api/profiles/checked", { paused: true }, /unknown field paused/],
        [
          "GET",
          "/api/profiles/checked/versions/one/snapshots",
          undefined,
          /version must be a number/,
        ],
      ];
      for (const [method, url, body, message] of cases) {
        const res = await owner.request(method, url, body);
        expect(res.status, `${method} ${url} ${JSON.stringify(body)}`).toBe(400);
        expect(res.body.error.message).toMatch(message);
      }
      expect((await owner.request("GET", "/api/profiles/nope")).status).toBe(404);
      expect((await owner.request("POST", "/api/profiles/nope/publish")).status).toBe(404);
      expect((await owner.request("PATCH", "/api/profiles/nope", { active: false })).status).toBe(
        404,
      );
      expect((await owner.request("POST", "/api/profiles/nope/refresh")).status).toBe(404);
      expect(
        (await owner.request("GET", "/api/profiles/checked/versions/9/snapshots")).status,
      ).toBe(404);
      const unpublished = await owner.request("POST", "/api/profiles/checked/refresh");
      expect(unpublished.status).toBe(409);
      expect(unpublished.body.error.message).toBe(
        "profile checked has no published version to refresh; publish it first",
      );

      const { db } = rt.database;
      const [user] = await db
        .insert(schema.users)
        .values({ name: "Member", email: `member-${Date.now()}@example.test` })
        .returning();
      await db
        .insert(schema.memberships)
        .values({ orgId: rt.defaultOrgId, userId: user!.id, role: "member" });
      const member = apiClient(
        app,
        (await issueToken(db, rt.clock, { userId: user!.id, kind: "api" })).token,
      );
      expect((await member.request("POST", "/api/profiles", { name: "mine" })).status).toBe(403);
      expect(
        (
          await member.request("PUT", "/api/profiles/checked/draft", {
            spec: { setupScript: "true" },
          })
        ).status,
      ).toBe(403);
      expect((await member.request("POST", "/api/profiles/checked/publish")).status).toBe(403);
      expect(
        (await member.request("PATCH", "/api/profiles/checked", { active: false })).status,
      ).toBe(403);
      expect((await member.request("POST", "/api/profiles/checked/refresh")).status).toBe(403);
      expect(
        (await member.request("GET", "/api/profiles/checked/versions/1/snapshots")).body,
      ).toEqual({ version: 1, status: "draft", snapshots: [] });
      expect((await member.request("GET", "/api/profiles/checked")).status).toBe(200);
      const mallory = apiClient(app, (await otherOrganization(rt)).token);
      expect((await mallory.request("GET", "/api/profiles/checked")).status).toBe(404);
    });

    it("deletes a profile no session started on; keeps the default one and one with sessions", async () => {
      const { db } = rt.database;
      await owner.request("POST", "/api/profiles", { name: "scratch" });
      await owner.request("POST", "/api/profiles/scratch/publish"); // nothing to build: ready at once
      await owner.request("PATCH", "/api/profiles/scratch", { refreshCron: "0 0 1 1 *" });
      const [row] = await db
        .select()
        .from(schema.sandboxProfiles)
        .where(
          and(
            eq(schema.sandboxProfiles.orgId, rt.defaultOrgId),
            eq(schema.sandboxProfiles.name, "scratch"),
          ),
        );
      expect(await rt.queues.snapshots.getJobScheduler(`profile-refresh-${row!.id}`)).toBeTruthy();

      const mallory = apiClient(app, (await otherOrganization(rt)).token);
      expect((await mallory.request("DELETE", "/api/profiles/scratch")).status).toBe(404);
      const [user] = await db
        .insert(schema.users)
        .values({ name: "Member", email: `member-del-${Date.now()}@example.test` })
        .returning();
      await db
        .insert(schema.memberships)
        .values({ orgId: rt.defaultOrgId, userId: user!.id, role: "member" });
      const member = apiClient(
        app,
        (await issueToken(db, rt.clock, { userId: user!.id, kind: "api" })).token,
      );
      expect((await member.request("DELETE", "/api/profiles/scratch")).status).toBe(403);

      const deleted = await owner.request("DELETE", "/api/profiles/scratch");
      expect(deleted.status).toBe(204);
      expect((await owner.request("GET", "/api/profiles/scratch")).status).toBe(404);
      expect(
        await db
          .select()
          .from(schema.sandboxProfileVersions)
          .where(eq(schema.sandboxProfileVersions.profileId, row!.id)),
      ).toEqual([]);
      expect(await rt.queues.snapshots.getJobScheduler(`profile-refresh-${row!.id}`)).toBeFalsy();
      expect((await owner.request("DELETE", "/api/profiles/scratch")).status).toBe(404);

      const keptDefault = await owner.request("DELETE", "/api/profiles/default");
      expect(keptDefault.status).toBe(409);
      expect(keptDefault.body.error.message).toBe(
        "the default profile cannot be deleted: sessions that name no profile start on it",
      );

      await owner.request("POST", "/api/profiles", { name: "used" });
      await owner.request("POST", "/api/profiles/used/publish");
      expect(
        (
          await owner.request("POST", "/api/sessions", {
            repository: "acme/app",
            prompt: "hi",
            profile: "used",
          })
        ).status,
      ).toBe(201);
      const keptUsed = await owner.request("DELETE", "/api/profiles/used");
      expect(keptUsed.status).toBe(409);
      expect(keptUsed.body.error.message).toBe(
        'profile used has sessions that started on it; deactivate it instead (PATCH {"active": false})',
      );
    });
  });

  describe("organizations and members", () => {
    it("adds a member with a one-time login link that becomes a browser session", async () => {
      const added = await owner.request("POST", `/api/orgs/${rt.defaultOrgId}/members`, {
        email: "Dana@Example.test",
        role: "member",
      });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({
        email: "dana@example.test",
        role: "member",
        loginUrl: expect.stringMatching(/^http:\/\/tandem\.test\/login\/tdm_/),
      });

      const path = new URL(added.body.loginUrl).pathname;
      const login = await app.inject({ method: "GET", url: path });
      expect(login.statusCode).toBe(303);
      const cookies = ([] as string[])
        .concat(login.headers["set-cookie"] ?? [])
        .map((c) => c.split(";")[0]!);
      const cookie = cookies.find((c) => c.startsWith("tandem_session="))!;
      expect(cookie).toMatch(/^tandem_session=tdm_/);
      const csrf = cookies.find((c) => c.startsWith("tandem_csrf="))!.slice("tandem_csrf=".length);
      const me = await app.inject({ method: "GET", url: "/api/me", headers: { cookie } });
      expect(me.json().userId).toBe(added.body.userId);
      expect((await app.inject({ method: "GET", url: path })).statusCode).toBe(401); // used once

      // A member cannot manage members or register repositories.
      const memberToken = await app.inject({
        method: "POST",
        url: "/api/tokens",
        headers: { cookie },
        payload: { name: "cli" },
      });
      expect(memberToken.statusCode).toBe(403); // a cookie alone is not enough for a state change
      const withCsrf = await app.inject({
        method: "POST",
        url: "/api/tokens",
        headers: { cookie: `${cookie}; tandem_csrf=${csrf}`, "x-csrf-token": csrf },
        payload: { name: "cli" },
      });
      expect(withCsrf.statusCode).toBe(201);
      const dana = apiClient(app, withCsrf.json().token);
      expect(
        (
          await dana.request("POST", `/api/orgs/${rt.defaultOrgId}/members`, {
            email: "eve@example.test",
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await dana.request("POST", "/api/repositories", {
            name: "d/x",
            cloneUrl: "https://x.test/x.git",
          })
        ).status,
      ).toBe(403);
      // …nor change the org's settings, though they may read them…
      const settingsUrl = `/api/orgs/${rt.defaultOrgId}/settings`;
      const refused = await dana.request("PATCH", settingsUrl, { allowPersistentSandboxes: true });
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toBe(
        "only an owner or admin of the organization can do this",
      );
      expect((await dana.request("GET", settingsUrl)).body.allowPersistentSandboxes).toBe(false);
      // …but can start sessions in the org, and delete their own once ended, not others'.
      const mine = await dana.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
      });
      expect(mine.status).toBe(201);
      const theirs = await owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "hi",
      });
      for (const id of [mine.body.id, theirs.body.id])
        await owner.request("POST", `/api/sessions/${id}/stop`);
      const notMine = await dana.request("DELETE", `/api/sessions/${theirs.body.id}`);
      expect(notMine.status).toBe(403);
      expect(notMine.body.error.message).toBe(
        "only the session's creator or an owner or admin of the organization can delete it",
      );
      expect((await dana.request("DELETE", `/api/sessions/${mine.body.id}`)).status).toBe(204);
      expect((await owner.request("DELETE", `/api/sessions/${theirs.body.id}`)).status).toBe(204);
    });

    it("changes roles and refuses to remove the last owner", async () => {
      const added = await owner.request("POST", `/api/orgs/${rt.defaultOrgId}/members`, {
        email: "frank@example.test",
        role: "admin",
      });
      const patched = await owner.request(
        "PATCH",
        `/api/orgs/${rt.defaultOrgId}/members/${added.body.userId}`,
        { role: "member" },
      );
      expect(patched.body).toEqual({ userId: added.body.userId, role: "member" });
      const last = await owner.request(
        "DELETE",
        `/api/orgs/${rt.defaultOrgId}/members/${rt.ownerId}`,
      );
      expect(last.status).toBe(400);
      expect(last.body.error.message).toMatch(/at least one owner/);
      expect(
        (await owner.request("DELETE", `/api/orgs/${rt.defaultOrgId}/members/${added.body.userId}`))
          .status,
      ).toBe(204);
      const members = await owner.request("GET", `/api/orgs/${rt.defaultOrgId}/members`);
      expect(members.body.members.map((m: { userId: string }) => m.userId)).not.toContain(
        added.body.userId,
      );
    });

    it("lets admins change the org's settings, with validation", async () => {
      const url = `/api/orgs/${rt.defaultOrgId}/settings`;
      const unlimited = { monthlyTokenBudget: null, sessionTokenBudget: null };
      expect((await owner.request("GET", url)).body).toEqual({
        concurrencyLimit: 4,
        allowPersistentSandboxes: false,
        ...unlimited,
      });
      expect((await owner.request("PATCH", url, { concurrencyLimit: 2 })).body).toEqual({
        concurrencyLimit: 2,
        allowPersistentSandboxes: false,
        ...unlimited,
      });
      expect((await owner.request("PATCH", url, { allowPersistentSandboxes: true })).body).toEqual({
        concurrencyLimit: 2,
        allowPersistentSandboxes: true,
        ...unlimited,
      });
      expect(
        (
          await owner.request("PATCH", url, {
            monthlyTokenBudget: 5_000_000_000,
            sessionTokenBudget: 200_000,
          })
        ).body,
      ).toMatchObject({ monthlyTokenBudget: 5_000_000_000, sessionTokenBudget: 200_000 });
      const negative = await owner.request("PATCH", url, { sessionTokenBudget: -1 });
      expect(negative.status).toBe(400);
      expect(negative.body.error.message).toMatch(/sessionTokenBudget/);
      expect(
        (await owner.request("PATCH", url, { monthlyTokenBudget: null, sessionTokenBudget: null }))
          .body,
      ).toMatchObject(unlimited);
      expect((await owner.request("GET", url)).body.allowPersistentSandboxes).toBe(true);
      const notBool = await owner.request("PATCH", url, { allowPersistentSandboxes: "yes" });
      expect(notBool.status).toBe(400);
      expect(notBool.body.error.message).toMatch(/allowPersistentSandboxes/);
      await owner.request("PATCH", url, { allowPersistentSandboxes: false });
      const bad = await owner.request("PATCH", url, { concurrencyLimit: 0 });
      expect(bad.status).toBe(400);
      expect(bad.body.error.message).toMatch(/concurrencyLimit/);
      const mallory = apiClient(app, (await otherOrganization(rt)).token);
      expect((await mallory.request("PATCH", url, { concurrencyLimit: 9 })).status).toBe(404);
      await owner.request("PATCH", url, { concurrencyLimit: 4 });
    });

    it("creates an organization owned by the caller, invisible to others", async () => {
      const created = await owner.request("POST", "/api/orgs", { name: "Acme Labs" });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: "Acme Labs", slug: "acme-labs" });
      const mine = await owner.request("GET", "/api/orgs");
      expect(mine.body.organizations.map((o: { id: string }) => o.id)).toContain(created.body.id);
      const mallory = apiClient(app, (await otherOrganization(rt)).token);
      expect((await mallory.request("GET", `/api/orgs/${created.body.id}/members`)).status).toBe(
        404,
      );
    });
  });

  it("serves health, readiness and Prometheus metrics by route and status", async () => {
    expect((await app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ ok: true });
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({
      ok: true,
      postgres: "ok",
      redis: "ok",
    });
    await app.inject({ method: "GET", url: "/api/sessions" }); // a 401
    const metrics = await app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.headers["content-type"]).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(
      /tandem_http_requests_total\{method="GET",route="\/api\/sessions",status="401"\} \d+/,
    );
    expect(metrics.body).toContain("process_cpu_seconds_total");
  });

  it("documents every /api route in /api/openapi.json", async () => {
    const res = await app.inject({ method: "GET", url: "/api/openapi.json" });
    const doc = res.json();
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(documented.sort()).toEqual([
      "DELETE /api/orgs/{orgId}/members/{userId}",
      "DELETE /api/profiles/{name}",
      "DELETE /api/sessions/{id}",
      "GET /api/me",
      "GET /api/orgs",
      "GET /api/orgs/{orgId}/members",
      "GET /api/orgs/{orgId}/settings",
      "GET /api/profiles",
      "GET /api/profiles/{name}",
      "GET /api/profiles/{name}/versions/{version}/snapshots",
      "GET /api/repositories",
      "GET /api/sessions",
      "GET /api/sessions/{id}",
      "GET /api/sessions/{id}/events",
      "PATCH /api/orgs/{orgId}/members/{userId}",
      "PATCH /api/orgs/{orgId}/settings",
      "PATCH /api/profiles/{name}",
      "POST /api/orgs",
      "POST /api/orgs/{orgId}/members",
      "POST /api/profiles",
      "POST /api/profiles/{name}/draft/test",
      "POST /api/profiles/{name}/publish",
      "POST /api/profiles/{name}/refresh",
      "POST /api/repositories",
      "POST /api/sessions",
      "POST /api/sessions/{id}/messages",
      "POST /api/sessions/{id}/stop",
      "POST /api/tokens",
      "PUT /api/profiles/{name}/draft",
    ]);
    for (const route of documented) {
      const [method, path] = route.split(" ") as [string, string];
      expect(
        app.hasRoute({ method: method as "GET", url: path.replace(/\{(\w+)\}/g, ":$1") }),
        route,
      ).toBe(true);
    }
    expect(
      doc.paths["/api/sessions"].post.requestBody.content["application/json"].schema.required,
    ).toEqual(["prompt"]);
  });
});
