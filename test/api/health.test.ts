import { describe, expect, it } from "vitest";
import { useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

// Health, readiness and metrics for operators; the OpenAPI document for clients.
describe.each(DB_KINDS)("API on %s", (kind) => {
  const api = useApiRuntime(kind);

  it("serves health, readiness and Prometheus metrics by route and status", async () => {
    const { app } = api;
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
    const { app } = api;
    const res = await app.inject({ method: "GET", url: "/api/openapi.json" });
    const doc = res.json();
    expect(doc.openapi).toBe("3.1.0");
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops as object).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(documented.sort()).toEqual([
      "DELETE /api/orgs/{orgId}/members/{userId}",
      "DELETE /api/profiles/{name}",
      "DELETE /api/repositories/{id}",
      "DELETE /api/sessions/{id}",
      "DELETE /api/tokens/{id}",
      "GET /api/me",
      "GET /api/orgs",
      "GET /api/orgs/{orgId}/members",
      "GET /api/orgs/{orgId}/settings",
      "GET /api/profiles",
      "GET /api/profiles/{name}",
      "GET /api/profiles/{name}/versions/{version}/snapshots",
      "GET /api/repositories",
      "GET /api/sessions",
      "GET /api/sessions/stream",
      "GET /api/sessions/{id}",
      "GET /api/sessions/{id}/events",
      "GET /api/setup",
      "GET /api/tokens",
      "PATCH /api/orgs/{orgId}/members/{userId}",
      "PATCH /api/orgs/{orgId}/settings",
      "PATCH /api/profiles/{name}",
      "PATCH /api/repositories/{id}",
      "PATCH /api/sessions/{id}",
      "POST /api/orgs",
      "POST /api/orgs/{orgId}/members",
      "POST /api/profiles",
      "POST /api/profiles/{name}/draft/test",
      "POST /api/profiles/{name}/publish",
      "POST /api/profiles/{name}/refresh",
      "POST /api/repositories",
      "POST /api/repositories/{id}/test",
      "POST /api/sessions",
      "POST /api/sessions/{id}/continue",
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
