import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { apiClient, otherOrganization } from "../helpers/api.ts";
import { defaultOrgMember, useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

// Sandbox profiles: drafts, publishing and snapshot builds, refresh schedules, who may change or
// delete them.
describe.each(DB_KINDS)("API on %s", (kind) => {
  const api = useApiRuntime(kind);

  describe("sandbox profiles", () => {
    it("creates a profile with an empty draft, validates drafts, and publishes idempotently", async () => {
      const { rt, owner } = api;
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
      // What each field left out comes to on this instance, for the profile page to show.
      expect(shown.body.defaults).toEqual({
        image: rt.config.SANDBOX_IMAGE,
        agent: { kind: rt.config.AGENT, model: rt.config.AGENT_MODEL },
        limits: { cpus: 2, memoryBytes: 4 * 1024 ** 3, pids: 1024, diskBytes: null },
        idleMinutes: rt.config.SANDBOX_IDLE_MINUTES,
        network: { egress: "none", allow: [] },
      });
      // A description is part of the spec: saved with the draft, trimmed, and bounded.
      const described = await owner.request("PUT", "/api/profiles/py-312/draft", {
        spec: { ...spec, description: "  Python 3.12 with uv  " },
      });
      expect(described.body.spec.description).toBe("Python 3.12 with uv");
      const long = await owner.request("PUT", "/api/profiles/py-312/draft", {
        spec: { ...spec, description: "x".repeat(501) },
      });
      expect(long.status).toBe(400);
      expect(long.body.error.message).toContain("description is at most 500 characters");
      await owner.request("PUT", "/api/profiles/py-312/draft", { spec });
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
      const { rt, app, owner } = api;
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

      const member = await defaultOrgMember(api, "member");
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
      const { rt, app, owner } = api;
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
      const member = await defaultOrgMember(api, "member-del");
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
});
