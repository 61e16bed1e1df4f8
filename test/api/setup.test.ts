import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { apiClient, otherOrganization } from "../helpers/api.ts";
import { startStack } from "../helpers/stack.ts";

// What an owner's first page walks through: what is missing, and where to fix it.
describe("GET /api/setup", () => {
  it("lists a repository, a model key and a connected chat as missing, then done as each is", async () => {
    const stack = await startStack(
      "postgres",
      {
        SLACK_BOT_TOKEN: "xoxb-test-token",
        SLACK_SIGNING_SECRET: "test-signing-secret",
        MODEL_UPSTREAM_API_KEY: "",
      },
      { none: true },
    );
    try {
      const steps = async () => (await stack.owner.request("GET", "/api/setup")).body;
      const first = await steps();
      expect(first.complete).toBe(false);
      expect(first.steps.map((s: { id: string; done: boolean }) => [s.id, s.done])).toEqual([
        ["repository", false],
        ["model", false],
        ["chat", false],
      ]);
      expect(first.steps[0].href).toBe("/repositories");
      expect(first.steps[1].detail).toContain("MODEL_UPSTREAM_API_KEY");
      expect(first.steps[2].detail).toContain(
        "Slack is configured; install it for this organization in Settings",
      );
      // Every provider, each configured or not: Settings shows the unconfigured ones as neutral.
      expect(first.providers).toEqual([
        { name: "slack", title: "Slack", configured: true, installations: 0 },
        { name: "github", title: null, configured: false, installations: 0 },
        { name: "linear", title: null, configured: false, installations: 0 },
        { name: "jira", title: null, configured: false, installations: 0 },
        { name: "discord", title: null, configured: false, installations: 0 },
      ]);

      await stack.owner.request("POST", "/api/repositories", {
        name: "acme/app",
        cloneUrl: "https://git.example.test/acme/app.git",
      });
      await stack.rt.database.db.insert(schema.installations).values({
        orgId: stack.rt.defaultOrgId,
        provider: "slack",
        externalId: "T0TEST",
        data: {},
      });
      const later = await steps();
      expect(later.steps.map((s: { done: boolean }) => s.done)).toEqual([true, false, true]);
      expect(later.steps[0].detail).toBe("1 registered.");
      expect(later.steps[2].detail).toBe("Connected: Slack.");
      expect(later.providers[0]).toEqual({
        name: "slack",
        title: "Slack",
        configured: true,
        installations: 1,
      });

      // Another org's owner sees their own org's state, not this one's.
      const mallory = apiClient(stack.app, (await otherOrganization(stack.rt)).token);
      const theirs = (await mallory.request("GET", "/api/setup")).body;
      expect(theirs.steps.map((s: { done: boolean }) => s.done)).toEqual([false, false, false]);
    } finally {
      await stack.close();
    }
  });
});
