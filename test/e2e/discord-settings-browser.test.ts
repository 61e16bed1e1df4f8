import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken } from "@tandem/core";
import { ARTIFACTS, chromiumAvailable, launchBrowser } from "../helpers/browser.ts";
import { startDiscordStack, type DiscordStack } from "../helpers/discord-stack.ts";
import { until } from "../helpers/stack.ts";
import { waitForStatus } from "../helpers/e2e.ts";

describe.skipIf(!chromiumAvailable())("Discord in the workbench, in headless Chromium", () => {
  let d: DiscordStack;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    d = await startDiscordStack({
      env: { PUBLIC_URL: "self" },
      registered: ["acme/app", "acme/api"],
      repos: { "acme/app": { "README.md": "# app\n" }, "acme/api": { "README.md": "# api\n" } },
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const login = await issueToken(d.stack.rt.database.db, d.stack.rt.clock, {
      userId: d.stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    await page.goto(`${d.stack.base}/login/${login.token}`);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await d?.close();
  });

  it("shows the install link, the interactions URL and the connected server; a role set there is required", async () => {
    // #eng works in acme/api (set from Discord with /tandem repo:).
    const eng = d.guild.channels[1]!.id;
    const set = await d.command({ channelId: eng, repo: "acme/api" });
    const interaction = d.fake.interactions.get(set.token)!;
    await until("the answer", async () => interaction.originalId !== undefined);

    await page.goto(`${d.stack.base}/settings`);
    await page.locator("[data-testid=discord-guild]").waitFor();
    const install = await page.locator("[data-testid=discord-install]").getAttribute("href");
    expect(install).toContain("https://discord.com/oauth2/authorize?");
    expect(new URL(install!).searchParams.get("scope")).toBe("bot applications.commands");
    expect(new URL(install!).searchParams.get("client_id")).toBe(
      d.stack.rt.config.DISCORD_APPLICATION_ID,
    );
    expect(await page.locator("[data-testid=discord-interactions-url]").textContent()).toBe(
      `${d.stack.base}/hooks/discord/interactions`,
    );
    const row = page.locator("[data-testid=discord-guild]");
    expect(await row.textContent()).toContain("Acme");
    expect(await row.textContent()).toContain("#eng → acme/api");

    await page.locator("[data-testid=discord-guild-role]").fill("Engineers");
    await page.locator("[data-testid=discord-guild-role-save]").click();
    await until("the saved role", async () => {
      const { body } = await d.stack.owner.request("GET", "/api/discord");
      return body.guilds[0]?.allowedRole === "Engineers";
    });
    await page.screenshot({ path: `${ARTIFACTS}/settings-discord.png`, fullPage: true });
    await page.reload();
    await page.locator("[data-testid=discord-guild-role]").waitFor();
    expect(await page.locator("[data-testid=discord-guild-role]").inputValue()).toBe("Engineers");

    // A member with the role starts a session in #eng (its repository); the session links back.
    const engineers = d.guild.roles.find((r) => r.name === "Engineers")!;
    const m = d.mention(eng, "write notes", {
      id: "100000000000000055",
      username: "dana",
      roles: [engineers.id],
    });
    const session = await d.sessionOf(m.id);
    await waitForStatus(d.stack, session.id, "idle");
    await page.goto(`${d.stack.base}/sessions/${session.id}`);
    const header = page.locator("header [data-testid=session-origin]");
    await header.waitFor();
    expect(await header.getAttribute("href")).toBe(
      `https://discord.com/channels/${d.guild.id}/${m.id}`,
    );
    expect(await header.textContent()).toBe("open in Discord");
  });
});
