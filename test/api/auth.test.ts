import { describe, expect, it } from "vitest";
import { apiClient } from "../helpers/api.ts";
import { ADMIN_TOKEN, useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

// Who may call the API: a user's token, or ADMIN_TOKEN as the default organization's owner.
describe.each(DB_KINDS)("API on %s", (kind) => {
  const api = useApiRuntime(kind);

  describe("authentication", () => {
    it("answers 401 without a token, with a bad token, and with a malformed header", async () => {
      const { app } = api;
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
      const { rt, app } = api;
      const res = await apiClient(app, ADMIN_TOKEN).request("GET", "/api/me");
      expect(res.status).toBe(200);
      expect(res.body.userId).toBe(rt.ownerId);
      expect(res.body.organizations).toEqual([
        expect.objectContaining({ id: rt.defaultOrgId, role: "owner" }),
      ]);
    });
  });
});
