import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionUrl } from "@tandem/core";
import { apiClient, otherOrganization } from "../helpers/api.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

// "Continue in a new session": an ended session's work carried on by a new one.
describe("POST /api/sessions/:id/continue", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack("postgres", { SANDBOX_PROVIDER: "local" }, { none: true });
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  const start = async (prompt: string) =>
    (await stack.owner.request("POST", "/api/sessions", { repository: "acme/app", prompt })).body
      .id as string;

  it("starts a new session on the same repository whose prompt links the ended one", async () => {
    const id = await start("Fix the flaky login test\nmore detail");
    // Not ended yet: it takes follow-ups instead.
    const early = await stack.owner.request("POST", `/api/sessions/${id}/continue`, {});
    expect(early.status).toBe(409);
    expect(early.body.error.message).toContain("send it a message instead");

    expect((await stack.owner.request("POST", `/api/sessions/${id}/stop`)).status).toBeLessThan(
      300,
    );
    const res = await stack.owner.request("POST", `/api/sessions/${id}/continue`, {
      prompt: "Now also cover the logout path",
    });
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe(id);
    const next = (await stack.owner.request("GET", `/api/sessions/${res.body.id}`)).body;
    expect(next.repository).toBe("acme/app");
    expect(next.prompt).toContain("Now also cover the logout path");
    expect(next.prompt).toContain(sessionUrl(stack.rt.config.PUBLIC_URL, id));
    expect(next.prompt).toContain("Its task: Fix the flaky login test");
    expect(
      (await stack.owner.request("POST", `/api/sessions/${id}/continue`, { prompt: "" })).status,
    ).toBe(400);
  });

  it("is 404 for another org's session", async () => {
    const id = await start("Something private");
    await stack.owner.request("POST", `/api/sessions/${id}/stop`);
    const mallory = apiClient(stack.app, (await otherOrganization(stack.rt)).token);
    expect((await mallory.request("POST", `/api/sessions/${id}/continue`, {})).status).toBe(404);
  });
});
