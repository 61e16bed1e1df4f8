import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema, transitionSession } from "@tandem/core";
import { apiClient, otherOrganization } from "../helpers/api.ts";
import { useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

// Sessions through the API: start, follow, message, stop and delete; another organization sees none
// of it.
describe.each(DB_KINDS)("API on %s", (kind) => {
  const api = useApiRuntime(kind);

  describe("sessions", () => {
    it("creates a queued session with its URL, shows and lists it, takes messages, stops", async () => {
      const { owner } = api;
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
      const { rt, app } = api;
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
      const { rt, owner } = api;
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
      const { rt, owner } = api;
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
      const { rt, app, owner } = api;
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
      const { rt, owner } = api;
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
      const { rt, app, owner } = api;
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
      const { rt, owner } = api;
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
});
