import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandAdapter, schema } from "@tandem/core";
import { FakeSlack, BOT_USER_ID, TEAM_ID } from "./fixtures/fake-slack.ts";
import { startGitHttpServer } from "./fixtures/git-http-server.ts";
import { blockActions, mention, newTs, postSlack, SIGNING_SECRET } from "./helpers/slack.ts";
import { startStack, until, type Stack } from "./helpers/stack.ts";

const AGENT = ["node", new URL("./fixtures/slack-agent.mjs", import.meta.url).pathname];
const GIT = { username: "tandem-test", password: "test-git-password" };

describe("Slack: profile:<name> picks the sandbox profile; one that cannot start is said in the thread", () => {
  let fake: FakeSlack;
  let git: Awaited<ReturnType<typeof startGitHttpServer>>;
  let stack: Stack;

  const sessionOf = async (channel: string, threadTs: string) => {
    const [row] = await stack.rt.database.db
      .select({ session: schema.sessions })
      .from(schema.sessionBindings)
      .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
      .where(eq(schema.sessionBindings.threadKey, `${TEAM_ID}:${channel}:${threadTs}`));
    return row?.session;
  };
  const waitSession = (channel: string, threadTs: string) =>
    until("the thread's session", () => sessionOf(channel, threadTs), 15_000);
  const versionId = async (profile: string, version = 1) => {
    const body = (await stack.owner.request("GET", `/api/profiles/${profile}`)).body;
    return body.published.find((v: { version: number }) => v.version === version).id as string;
  };
  /** A published profile with nothing to build: ready at once. */
  const readyProfile = async (name: string, spec: Record<string, unknown>) => {
    expect((await stack.owner.request("POST", "/api/profiles", { name })).status).toBe(201);
    expect((await stack.owner.request("PUT", `/api/profiles/${name}/draft`, { spec })).status).toBe(
      200,
    );
    expect(
      (await stack.owner.request("POST", `/api/profiles/${name}/publish`)).body.snapshot.status,
    ).toBe("ready");
  };
  /** Mentions the bot and waits for the refusal in the thread; returns its text. */
  const refused = async (channel: string, text: string) => {
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel, ts, text: `<@${BOT_USER_ID}> ${text}` }),
    );
    await fake.waitFor("the refusal in the thread", () =>
      fake.postsIn(channel, ts).some((c) => String(c.body.text).includes("That did not work")),
    );
    expect(await sessionOf(channel, ts)).toBeUndefined();
    return String(
      fake.postsIn(channel, ts).find((c) => String(c.body.text).includes("That did not work"))!.body
        .text,
    );
  };
  const apiRefusal = async (profile: string) => {
    const res = await stack.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "x",
      profile,
    });
    expect(res.status).toBe(409);
    return res.body.error.message as string;
  };

  beforeAll(async () => {
    fake = await new FakeSlack().listen();
    git = await startGitHttpServer(GIT);
    git.createRepo("acme/app", { "README.md": "# app\n" });
    git.createRepo("acme/api", { "README.md": "# api\n" });
    stack = await startStack(
      "postgres",
      {
        SLACK_API_URL: fake.url,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_BOT_TOKEN: "xoxb-test-token",
        SANDBOX_PROVIDER: "local",
      },
      { agent: commandAdapter(AGENT) },
    );
    expect(
      (
        await stack.owner.request("POST", "/api/repositories", {
          name: "acme/app",
          cloneUrl: git.url("acme/app"),
          defaultBranch: "main",
          credential: GIT,
        })
      ).status,
    ).toBe(201);
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await git?.close();
    await fake?.close();
  });

  it("without profile: the org's default profile; with profile:<name> that profile, and the word is not in the prompt", async () => {
    const plain = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({ teamId: TEAM_ID, channel: "P1", ts: plain, text: `<@${BOT_USER_ID}> tidy up` }),
    );
    expect((await waitSession("P1", plain)).profileVersionId).toBe(await versionId("default"));

    await readyProfile("quick", { env: { QUICK: "1" } });
    const named = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "P1",
        ts: named,
        text: `<@${BOT_USER_ID}> profile:quick tidy up again`,
      }),
    );
    const session = await waitSession("P1", named);
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
        await stack.owner.request("POST", "/api/sessions", {
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
      (await stack.owner.request("PATCH", "/api/profiles/off", { active: false })).status,
    ).toBe(200);
    const inactive = await apiRefusal("off");
    expect(inactive).toBe("profile off is inactive");
    expect(await refused("P3", "profile:off fix it")).toContain(inactive);

    await stack.owner.request("POST", "/api/profiles", { name: "broken" });
    await stack.owner.request("PUT", "/api/profiles/broken/draft", {
      spec: { setupScript: "exit 1" },
    });
    await stack.owner.request("POST", "/api/profiles/broken/publish");
    await until(
      "the broken build to fail",
      async () =>
        (await stack.owner.request("GET", "/api/profiles/broken")).body.published[0].snapshot
          .status === "failed",
      30_000,
    );
    const unbuilt = await apiRefusal("broken");
    expect(unbuilt).toBe("profile broken v1 has no ready snapshot yet (status: failed)");
    expect(await refused("P3", "profile:broken fix it")).toContain(unbuilt);

    expect(await refused("P3", "profile:nope fix it")).toContain("sandbox profile nope not found");
    expect(
      await stack.rt.database.db
        .select()
        .from(schema.sessions)
        .where(eq(schema.sessions.prompt, "fix it")),
    ).toEqual([]);
  });

  it("the repository picker keeps the named profile for the session it starts", async () => {
    expect(
      (
        await stack.owner.request("POST", "/api/repositories", {
          name: "acme/api",
          cloneUrl: git.url("acme/api"),
          defaultBranch: "main",
          credential: GIT,
        })
      ).status,
    ).toBe(201);
    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: TEAM_ID,
        channel: "P4",
        ts,
        text: `<@${BOT_USER_ID}> profile:quick write the changelog`,
      }),
    );
    await fake.waitFor("the picker", () =>
      fake
        .postsIn("P4", ts)
        .some((c) => JSON.stringify(c.body.blocks ?? []).includes("tandem_pick_repo")),
    );
    const picker = fake
      .postsIn("P4", ts)
      .find((c) => JSON.stringify(c.body.blocks ?? []).includes("tandem_pick_repo"))!;
    await postSlack(
      stack.base,
      "interactions",
      blockActions({
        teamId: TEAM_ID,
        channel: "P4",
        messageTs: "1700000000.000004",
        threadTs: ts,
        action: {
          action_id: "tandem_pick_repo",
          block_id: picker.body.blocks[0].block_id,
          selected: "acme/api",
        },
      }),
    );
    const session = await waitSession("P4", ts);
    expect(session.profileVersionId).toBe(await versionId("quick"));
    expect(session.prompt).toBe("write the changelog");
  });
});
