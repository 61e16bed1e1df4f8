import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { BOT_EVENTS, BOT_SCOPES } from "../../bot/src/slack/config.ts";
import { decryptSecret, schema } from "@tandem/core";
import { sessionOfThread } from "../helpers/e2e.ts";
import { mention, newTs, postSlack } from "../helpers/slack.ts";
import { useSlackStack } from "../helpers/slack-stack.ts";
import { TEST_ENCRYPTION_KEY, until } from "../helpers/stack.ts";

// Setting the app up: its manifest, Slack's URL check, and the OAuth install into another
// workspace.
describe("Slack: mention, follow in place, continue by replying", () => {
  const slack = useSlackStack();

  it("serves the app manifest with this deployment's URLs and the scopes the install asks for", async () => {
    const { stack } = slack;
    const res = await fetch(`${stack.base}/slack/manifest.json`);
    expect(res.status).toBe(200);
    const manifest = (await res.json()) as any;
    expect(manifest.settings.event_subscriptions.request_url).toBe(
      "http://tandem.test/hooks/slack/events",
    );
    expect(manifest.settings.interactivity.request_url).toBe(
      "http://tandem.test/hooks/slack/interactions",
    );
    expect(manifest.features.slash_commands[0]).toMatchObject({
      command: "/tandem",
      url: "http://tandem.test/hooks/slack/commands",
    });
    expect(manifest.oauth_config.redirect_urls).toEqual([
      "http://tandem.test/slack/oauth_redirect",
    ]);
    expect(manifest.oauth_config.scopes.bot).toEqual(BOT_SCOPES);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(BOT_EVENTS);
  });

  it("answers url_verification", async () => {
    const { stack } = slack;
    const res = await postSlack(stack.base, "events", {
      type: "url_verification",
      token: "x",
      challenge: "the-challenge",
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ challenge: "the-challenge" });
  });

  it("installs into another workspace with OAuth; its bot token is stored encrypted and used for that workspace", async () => {
    const { stack, fake } = slack;
    const anonymous = await fetch(`${stack.base}/slack/install`, { redirect: "manual" });
    expect(anonymous.status).toBe(401);

    const install = await fetch(`${stack.base}/slack/install`, {
      redirect: "manual",
      headers: { authorization: `Bearer ${stack.owner.token}` },
    });
    expect(install.status).toBe(302);
    const authorize = new URL(install.headers.get("location")!);
    expect(`${authorize.origin}${authorize.pathname}`).toBe(
      new URL("../oauth/v2/authorize", fake.url).toString(),
    );
    expect(authorize.searchParams.get("client_id")).toBe("client-id");
    expect(authorize.searchParams.get("redirect_uri")).toBe(
      "http://tandem.test/slack/oauth_redirect",
    );
    expect(authorize.searchParams.get("scope")!.split(",")).toContain("app_mentions:read");
    const state = authorize.searchParams.get("state")!;
    const cookie = install.headers.get("set-cookie")!.split(";")[0]!;

    const forged = await fetch(
      `${stack.base}/slack/oauth_redirect?code=c0de&state=${encodeURIComponent(state)}`,
    );
    expect(forged.status).toBe(400); // no state cookie: not the browser that began the install
    const done = await fetch(
      `${stack.base}/slack/oauth_redirect?code=c0de&state=${encodeURIComponent(state)}`,
      { headers: { cookie } },
    );
    expect(done.status).toBe(200);
    expect(await done.text()).toContain("Tandem is installed");
    expect(fake.callsTo("oauth.v2.access").at(-1)!.body.code).toBe("c0de");

    const [row] = await stack.rt.database.db
      .select()
      .from(schema.installations)
      .where(eq(schema.installations.externalId, "T0INSTALLED"));
    expect(row).toMatchObject({ provider: "slack", orgId: stack.rt.defaultOrgId });
    expect(row!.credentialsEncrypted).toMatch(/^v1:/);
    expect(JSON.stringify(row)).not.toContain("xoxb-installed-token");
    expect(JSON.parse(decryptSecret(TEST_ENCRYPTION_KEY, row!.credentialsEncrypted!))).toEqual({
      botToken: "xoxb-installed-token",
    });

    const ts = newTs();
    await postSlack(
      stack.base,
      "events",
      mention({
        teamId: "T0INSTALLED",
        channel: "C20",
        ts,
        text: "<@UINSTALLEDBOT> acme/app hello from elsewhere",
      }),
    );
    await until("the session", () => sessionOfThread(stack, `T0INSTALLED:C20:${ts}`), 15_000);
    await slack.waitForPost("the summary in the other workspace", "C20", ts, "Done:");
    expect(
      fake.calls
        .filter((c) => c.body.channel === "C20")
        .every((c) => c.token === "xoxb-installed-token"),
    ).toBe(true);
  });
});
