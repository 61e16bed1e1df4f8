import { api, h } from "./api.ts";
import { showLoadFailure } from "./settings-state.ts";

interface Guild {
  id: string;
  name: string;
  allowedRole: string | null;
  connectedAt: string;
  channels: Array<{ id: string; name: string | null; repository: string }>;
  problem: string | null;
}
interface App {
  applicationId: string;
  installUrl: string;
  interactionsUrl: string | null;
  allowedRole: string | null;
}

/**
 * Settings → Discord: the link that adds the bot to a server, the interactions URL for the
 * developer portal, and this org's servers with the role each asks for and their channels'
 * default repositories.
 */
export function discordSection(orgId: () => string) {
  const body = h("div", { "data-testid": "discord" });
  const error = h("p.error", { "data-testid": "discord-error" });
  const asOrg = () => ({ "x-tandem-org": orgId() });

  const guildRow = (g: Guild, fallback: string | null) => {
    const input = h("input", {
      "data-testid": "discord-guild-role",
      "data-id": g.id,
      "aria-label": `Role needed in ${g.name}`,
      value: g.allowedRole ?? "",
      placeholder: fallback ? `${fallback} (DISCORD_ALLOWED_ROLE)` : "every member",
    });
    const save = h(
      "button",
      {
        "data-testid": "discord-guild-role-save",
        "aria-label": `Save the role for ${g.name}`,
        onclick: async () => {
          error.textContent = "";
          save.disabled = true;
          try {
            await api(
              "PUT",
              `/api/discord/guilds/${encodeURIComponent(g.id)}`,
              { allowedRole: input.value.trim() || null },
              asOrg(),
            );
          } catch (err) {
            error.textContent = (err as Error).message;
          } finally {
            save.disabled = false;
          }
        },
      },
      "Save",
    );
    const channels = g.channels.length
      ? g.channels.map((c) =>
          h("div", {}, h("code", {}, `#${c.name ?? c.id}`), " → ", h("code", {}, c.repository)),
        )
      : [h("span.muted", {}, "none (set one with /tandem repo:owner/name)")];
    return h(
      "tr",
      { "data-testid": "discord-guild" },
      h(
        "td",
        {},
        h("strong", {}, g.name),
        h("div.muted", {}, `since ${new Date(g.connectedAt).toLocaleDateString()}`),
        g.problem ? h("div.error", {}, g.problem) : "",
      ),
      h("td", {}, input, " ", save),
      h("td", {}, ...channels),
    );
  };

  const load = async () => {
    error.textContent = "";
    try {
      const { app, guilds } = await api<{ app: App; guilds: Guild[] }>(
        "GET",
        "/api/discord",
        undefined,
        asOrg(),
      );
      body.replaceChildren(
        h(
          "section.workspace",
          { "data-testid": "discord-app" },
          h(
            "p",
            {},
            h(
              "a.button",
              {
                href: app.installUrl,
                target: "_blank",
                rel: "noopener",
                "data-testid": "discord-install",
              },
              "Add to a Discord server",
            ),
            h("span.muted", {}, ` application ${app.applicationId}`),
          ),
          app.interactionsUrl
            ? h(
                "p.muted",
                {},
                "Interactions Endpoint URL (developer portal → General Information): ",
                h("code", { "data-testid": "discord-interactions-url" }, app.interactionsUrl),
              )
            : h("p.muted", {}, "Set DISCORD_PUBLIC_KEY to take /tandem and the buttons."),
          guilds.length
            ? h(
                "table.teams",
                {},
                h(
                  "thead",
                  {},
                  h(
                    "tr",
                    {},
                    h("th", {}, "Server"),
                    h("th", {}, "Role needed"),
                    h("th", {}, "Channel repositories"),
                  ),
                ),
                h("tbody", {}, ...guilds.map((g) => guildRow(g, app.allowedRole))),
              )
            : h("p.empty", {}, "No server yet: add the bot with the link above."),
        ),
      );
    } catch (err) {
      showLoadFailure(
        err,
        body,
        error,
        "Discord is not configured (DISCORD_BOT_TOKEN and DISCORD_APPLICATION_ID).",
      );
    }
  };
  return { element: h("div.provider-section", {}, h("h3", {}, "Discord"), body, error), load };
}
