import { readFileSync } from "node:fs";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, storedSpec } from "@tandem/core";
import { apiClient, buildTestApp, ownerToken, type ApiClient } from "./helpers/api.ts";
import { startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";
import { ROOT } from "./helpers/spawn.ts";

describe("a profile's network policy", () => {
  let rt: TestRuntime;
  let app: FastifyInstance;
  let owner: ApiClient;
  beforeAll(async () => {
    rt = await startTestRuntime("postgres");
    app = await buildTestApp(rt);
    owner = apiClient(app, await ownerToken(rt));
    expect((await owner.request("POST", "/api/profiles", { name: "net" })).status).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
  });
  const saveDraft = (spec: unknown) => owner.request("PUT", "/api/profiles/net/draft", { spec });

  it("defaults to egress none with an empty allow list", async () => {
    expect((await owner.request("GET", "/api/profiles/net")).body.draft.spec.network).toEqual({
      egress: "none",
      allow: [],
    });
  });

  it("saves an allowlist policy, host names lower-cased", async () => {
    const res = await saveDraft({
      network: { egress: "allowlist", allow: ["Registry.NPMJS.org", "*.pypi.org"] },
    });
    expect(res.status).toBe(200);
    expect(res.body.spec.network).toEqual({
      egress: "allowlist",
      allow: ["registry.npmjs.org", "*.pypi.org"],
    });
  });

  it("refuses the old string form, unknown modes and malformed hosts with a 400", async () => {
    for (const network of [
      "host",
      { egress: "some" },
      { egress: "allowlist", allow: ["https://x.test/"] },
      { egress: "open", extra: 1 },
    ]) {
      const res = await saveDraft({ network });
      expect(res.status, JSON.stringify(network)).toBe(400);
      expect(res.body.error.message).toMatch(/network|extra/);
    }
  });

  it("refuses hostNetwork unless SANDBOX_ALLOW_HOST_NETWORK is set, naming the field and the setting", async () => {
    const res = await saveDraft({ hostNetwork: true });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe(
      "hostNetwork is not allowed on this instance (set SANDBOX_ALLOW_HOST_NETWORK=true to allow it)",
    );

    const allowing = await buildTestApp({
      ...rt,
      config: { ...rt.config, SANDBOX_ALLOW_HOST_NETWORK: true },
    });
    try {
      const client = apiClient(allowing, owner.token);
      const saved = await client.request("PUT", "/api/profiles/net/draft", {
        spec: { hostNetwork: true },
      });
      expect(saved.status).toBe(200);
      expect(saved.body.spec).toMatchObject({
        hostNetwork: true,
        network: { egress: "none", allow: [] },
      });
      // The instance stopped allowing it: that draft is not published.
      const publish = await owner.request("POST", "/api/profiles/net/publish");
      expect(publish.status).toBe(400);
      expect(publish.body.error.message).toMatch(/hostNetwork .*SANDBOX_ALLOW_HOST_NETWORK/);
      expect((await client.request("POST", "/api/profiles/net/publish")).status).toBe(202);
    } finally {
      await allowing.close();
    }
  });

  describe("specs stored as a string before policies", () => {
    const legacy = {
      host: { egress: "open", allow: [] },
      none: { egress: "none", allow: [] },
      "my-bridge": { egress: "open", allow: [] },
    };

    it("read as the policy they meant", async () => {
      for (const [network, policy] of Object.entries(legacy))
        expect(storedSpec({ network }).network).toEqual(policy);
    });

    it("are rewritten by the migration", async () => {
      const { db } = rt.database;
      const [profile] = await db
        .insert(schema.sandboxProfiles)
        .values({ orgId: rt.defaultOrgId, name: "legacy" })
        .returning();
      const rows = await db
        .insert(schema.sandboxProfileVersions)
        .values(
          Object.keys(legacy).map((network, i) => ({
            profileId: profile!.id,
            version: i + 1,
            status: "published" as const,
            spec: { setupScript: "", network },
          })),
        )
        .returning();
      // Published versions read through the API as the policy even before the rewrite.
      const view = await owner.request("GET", "/api/profiles/legacy");
      expect(
        view.body.published.map((v: { spec: { network: unknown } }) => v.spec.network),
      ).toEqual(Object.values(legacy).reverse());

      const file = readFileSync(path.join(ROOT, "migrations/0007_network_policy.sql"), "utf8");
      const rewrite = file
        .split("--> statement-breakpoint")
        .find((s) => /UPDATE "sandbox_profile_versions"/.test(s))!;
      await db.execute(sql.raw(rewrite));
      for (const [i, network] of Object.keys(legacy).entries()) {
        const [row] = await db
          .select()
          .from(schema.sandboxProfileVersions)
          .where(eq(schema.sandboxProfileVersions.id, rows[i]!.id));
        expect(row!.spec).toEqual({
          setupScript: "",
          network: { egress: network === "none" ? "none" : "open" },
        });
      }
    });
  });
});
