import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { apiClient } from "../helpers/api.ts";
import { defaultOrgMember, useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

interface TokenView {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

// API tokens: named, optionally expiring, their last use recorded, listed and revoked by their owner.
describe.each(DB_KINDS)("API tokens on %s", (kind) => {
  const api = useApiRuntime(kind);

  it("creates a named token with an expiry, shows it once, and lists it without the token", async () => {
    const me = await defaultOrgMember(api, "tok-create");
    const before = Date.now();
    const created = await me.request("POST", "/api/tokens", { name: "ci", expiresInDays: 30 });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^tdm_/);
    expect(created.body.name).toBe("ci");
    const expires = Date.parse(created.body.expiresAt);
    expect(expires - before).toBeGreaterThanOrEqual(30 * 86_400_000 - 5_000);
    expect(expires - before).toBeLessThanOrEqual(30 * 86_400_000 + 60_000);

    const list = await me.request("GET", "/api/tokens");
    expect(list.status).toBe(200);
    const tokens = list.body.tokens as TokenView[];
    const ci = tokens.find((t) => t.id === created.body.id)!;
    expect(ci).toMatchObject({ name: "ci", lastUsedAt: null });
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
    expect(Object.keys(ci).sort()).toEqual(["createdAt", "expiresAt", "id", "lastUsedAt", "name"]);
  });

  it("records a token's last use, and an expired one no longer works", async () => {
    const me = await defaultOrgMember(api, "tok-use");
    const made = (await me.request("POST", "/api/tokens", { name: "script" })).body;
    expect(made.expiresAt).toBeNull();
    const script = apiClient(api.app, made.token);
    expect((await script.request("GET", "/api/me")).status).toBe(200);
    const listed = (await me.request("GET", "/api/tokens")).body.tokens as TokenView[];
    const used = listed.find((t) => t.id === made.id)!;
    expect(used.lastUsedAt).not.toBeNull();
    expect(Date.now() - Date.parse(used.lastUsedAt!)).toBeLessThan(60_000);

    await api.rt.database.db
      .update(schema.apiTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(schema.apiTokens.id, made.id));
    expect((await script.request("GET", "/api/me")).status).toBe(401);
  });

  it("revokes a token at once; another user's token is not theirs to list or revoke", async () => {
    const me = await defaultOrgMember(api, "tok-revoke");
    const other = await defaultOrgMember(api, "tok-other");
    const made = (await me.request("POST", "/api/tokens", { name: "laptop" })).body;
    const laptop = apiClient(api.app, made.token);
    expect((await laptop.request("GET", "/api/me")).status).toBe(200);

    const listedByOther = (await other.request("GET", "/api/tokens")).body.tokens as TokenView[];
    expect(listedByOther.map((t) => t.id)).not.toContain(made.id);
    const refused = await other.request("DELETE", `/api/tokens/${made.id}`);
    expect(refused.status).toBe(404);
    expect(refused.body.error.message).toBe("API token not found");
    expect((await laptop.request("GET", "/api/me")).status).toBe(200);

    expect((await me.request("DELETE", `/api/tokens/${made.id}`)).status).toBe(204);
    expect((await laptop.request("GET", "/api/me")).status).toBe(401);
    const after = (await me.request("GET", "/api/tokens")).body.tokens as TokenView[];
    expect(after.map((t) => t.id)).not.toContain(made.id);
    expect((await me.request("DELETE", `/api/tokens/${made.id}`)).status).toBe(404);
  });

  it("refuses a bad expiry and a bad id with a message naming the field", async () => {
    const me = await defaultOrgMember(api, "tok-bad");
    for (const expiresInDays of [0, 1.5, 5000, "7"]) {
      const res = await me.request("POST", "/api/tokens", { name: "x", expiresInDays });
      expect(res.status, JSON.stringify(expiresInDays)).toBe(400);
      expect(res.body.error.message).toContain("expiresInDays");
    }
    const bad = await me.request("DELETE", "/api/tokens/not-a-uuid");
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain("token id must be a UUID");
  });
});
