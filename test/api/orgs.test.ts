import { describe, expect, it } from "vitest";
import { apiClient, otherOrganization } from "../helpers/api.ts";
import { useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

// Organizations and their members: login links, roles, settings, new organizations.
describe.each(DB_KINDS)("API on %s", (kind) => {
  const api = useApiRuntime(kind);

  describe("organizations and members", () => {
    it("adds a member with a one-time login link that becomes a browser session", async () => {
      const { rt, app, owner } = api;
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
      const { rt, owner } = api;
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
      const { rt, app, owner } = api;
      const url = `/api/orgs/${rt.defaultOrgId}/settings`;
      const unlimited = { monthlyTokenBudget: null, sessionTokenBudget: null };
      expect((await owner.request("GET", url)).body).toEqual({
        concurrencyLimit: 4,
        allowPersistentSandboxes: false,
        ...unlimited,
        // The instance's limits for a sandbox whose profile sets none, shown beside the org's.
        sandboxDefaults: { cpus: 2, memoryBytes: 4 * 1024 ** 3, pids: 1024, diskBytes: null },
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
      const { rt, app, owner } = api;
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
});
