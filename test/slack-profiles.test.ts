import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { newTs } from "./helpers/slack.ts";
import { useSlackStack } from "./helpers/slack-stack.ts";
import { until } from "./helpers/stack.ts";

describe("Slack: profile:<name> picks the sandbox profile; one that cannot start is said in the thread", () => {
  const slack = useSlackStack({
    repos: { "acme/app": { "README.md": "# app\n" }, "acme/api": { "README.md": "# api\n" } },
    installAndSocketMode: false,
  });
  const versionId = async (profile: string, version = 1) => {
    const body = (await slack.stack.owner.request("GET", `/api/profiles/${profile}`)).body;
    return body.published.find((v: { version: number }) => v.version === version).id as string;
  };
  /** A published profile with nothing to build: ready at once. */
  const readyProfile = async (name: string, spec: Record<string, unknown>) => {
    expect((await slack.stack.owner.request("POST", "/api/profiles", { name })).status).toBe(201);
    expect(
      (await slack.stack.owner.request("PUT", `/api/profiles/${name}/draft`, { spec })).status,
    ).toBe(200);
    expect(
      (await slack.stack.owner.request("POST", `/api/profiles/${name}/publish`)).body.snapshot
        .status,
    ).toBe("ready");
  };
  /** Mentions the bot and waits for the refusal in the thread; returns its text. */
  const refused = async (channel: string, text: string) => {
    const ts = newTs();
    await slack.postMention(channel, ts, text);
    const refusal = await slack.waitForPost(
      "the refusal in the thread",
      channel,
      ts,
      "That did not work",
    );
    expect(await slack.sessionOf(channel, ts)).toBeUndefined();
    return String(refusal.body.text);
  };
  const apiRefusal = async (profile: string) => {
    const res = await slack.stack.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "x",
      profile,
    });
    expect(res.status).toBe(409);
    return res.body.error.message as string;
  };

  it("without profile: the org's default profile; with profile:<name> that profile, and the word is not in the prompt", async () => {
    const plain = newTs();
    await slack.postMention("P1", plain, "tidy up");
    expect((await slack.waitSession("P1", plain)).profileVersionId).toBe(
      await versionId("default"),
    );

    await readyProfile("quick", { env: { QUICK: "1" } });
    const named = newTs();
    await slack.postMention("P1", named, "profile:quick tidy up again");
    const session = await slack.waitSession("P1", named);
    expect(session.profileVersionId).toBe(await versionId("quick"));
    expect(session.prompt).toBe("tidy up again");
  });

  it("a profile that does not list slack in its integrations is refused in the thread", async () => {
    await readyProfile("ghonly", { integrations: ["github"] });
    expect(await refused("P2", "profile:ghonly fix it")).toContain(
      "profile ghonly cannot be used from slack (its integrations: github)",
    );
    // The API and the workbench are not integrations: the profile still starts sessions there.
    expect(
      (
        await slack.stack.owner.request("POST", "/api/sessions", {
          repository: "acme/app",
          prompt: "x",
          profile: "ghonly",
        })
      ).status,
    ).toBe(201);
  });

  it("an inactive profile, one without a ready snapshot and an unknown one: the API's reason, in the thread", async () => {
    await readyProfile("off", {});
    expect(
      (await slack.stack.owner.request("PATCH", "/api/profiles/off", { active: false })).status,
    ).toBe(200);
    const inactive = await apiRefusal("off");
    expect(inactive).toBe("profile off is inactive");
    expect(await refused("P3", "profile:off fix it")).toContain(inactive);

    await slack.stack.owner.request("POST", "/api/profiles", { name: "broken" });
    await slack.stack.owner.request("PUT", "/api/profiles/broken/draft", {
      spec: { setupScript: "exit 1" },
    });
    await slack.stack.owner.request("POST", "/api/profiles/broken/publish");
    await until(
      "the broken build to fail",
      async () =>
        (await slack.stack.owner.request("GET", "/api/profiles/broken")).body.published[0].snapshot
          .status === "failed",
      30_000,
    );
    const unbuilt = await apiRefusal("broken");
    expect(unbuilt).toBe("profile broken v1 has no ready snapshot yet (status: failed)");
    expect(await refused("P3", "profile:broken fix it")).toContain(unbuilt);

    expect(await refused("P3", "profile:nope fix it")).toContain("sandbox profile nope not found");
    expect(
      await slack.stack.rt.database.db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.prompt, "fix it")),
    ).toEqual([]);
  });

  it("the repository picker keeps the named profile for the session it starts", async () => {
    expect((await slack.registerRepo("acme/api")).status).toBe(201);
    const ts = newTs();
    await slack.postMention("P4", ts, "profile:quick write the changelog");
    const picker = await slack.waitPicker("P4", ts);
    await slack.pickRepo("P4", ts, {
      messageTs: "1700000000.000004",
      blockId: picker.body.blocks[0].block_id,
      repo: "acme/api",
    });
    const session = await slack.waitSession("P4", ts);
    expect(session.profileVersionId).toBe(await versionId("quick"));
    expect(session.prompt).toBe("write the changelog");
  });
});
