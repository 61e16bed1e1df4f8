import { api, ApiError, h } from "./api.ts";
import { tokensSection } from "./settings-tokens.ts";
import { discordSection } from "./settings-discord.ts";
import { githubSection } from "./settings-github.ts";
import { jiraSection } from "./settings-jira.ts";
import { linearSection } from "./settings-linear.ts";
import { limitsSection } from "./settings-limits.ts";

interface Org {
  id: string;
  name: string;
  role: string;
}
interface Member {
  userId: string;
  name: string | null;
  email: string;
  role: string;
}
interface ProviderState {
  name: string;
  title: string | null;
  configured: boolean;
  installations: number;
}

/** The providers Settings knows how to show, in /api/setup's order; a new one shows by its name. */
const TITLES: Record<string, string> = {
  slack: "Slack",
  github: "GitHub",
  linear: "Linear",
  jira: "Jira",
  discord: "Discord",
};
const WHAT: Record<string, string> = {
  slack: "mentions in Slack threads",
  github: "issue and pull request comments, and the GitHub App's repositories",
  linear: "Linear issues mentioned or delegated to the agent",
  jira: "Jira issues that mention or are assigned to the agent",
  discord: "mentions and /tandem in Discord servers",
};

/** Orgs the caller administers; the header shows Settings only when there is one. */
async function adminOrgs(): Promise<Org[]> {
  const me = await api<{ organizations: Org[] }>("GET", "/api/me");
  return me.organizations.filter((o) => o.role !== "member");
}

const card = (id: string, title: string, ...children: Array<Node | string | null>) =>
  h(
    "section.card.settings-section",
    { id, "aria-labelledby": `${id}-title`, "data-testid": id },
    h("h2", { id: `${id}-title` }, title),
    ...children,
  );
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * Settings of the org chosen at the top: its members, API tokens, repositories, the chat and
 * tracker providers (connected, configured, or not configured: a neutral state, not an error),
 * and its limits. Each configured provider's own section follows its row.
 */
export async function renderSettings(app: HTMLElement) {
  document.title = "Settings · Tandem";
  const main = h("main.narrow.settings-page", {}, h("h1", {}, "Settings"));
  app.append(main);
  let orgs: Org[];
  try {
    orgs = await adminOrgs();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401)
      return location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    throw err;
  }
  if (!orgs.length)
    return void main.append(
      h("p.notice", {}, "Settings are for the owners and admins of an organization."),
    );
  const orgSelect = h(
    "select",
    { "data-testid": "settings-org", onchange: () => void loadAll() },
    ...orgs.map((o) => h("option", { value: o.id }, o.name)),
  );
  const current = () => orgs.find((o) => o.id === orgSelect.value) ?? orgs[0]!;
  const asOrg = () => ({ "x-tandem-org": current().id });

  const members = h("ul.members", { "data-testid": "members" });
  const repositories = h("p", {});
  const providerList = h("ul.providers", { "data-testid": "providers" });
  const providerDetails = h("div.provider-details");
  const sections = {
    github: githubSection(() => current()),
    linear: linearSection(() => current().id),
    jira: jiraSection(() => current().id),
    discord: discordSection(() => current().id),
  } as Record<string, { element: HTMLElement; load: () => Promise<void> } | undefined>;
  const limits = limitsSection(() => current().id);
  const tokens = tokensSection();
  const problem = h("p.error", { "data-testid": "settings-load-error" });

  main.append(
    h(
      "div.settings-org",
      {},
      h("label.field", {}, h("span", {}, "Organization"), orgSelect),
      h("p.muted.small", {}, "Settings below are this organization's."),
    ),
    problem,
    card(
      "settings-members",
      "Members",
      h("p.muted", {}, "Owners and admins change profiles, repositories and these settings."),
      members,
    ),
    card("api-tokens", "API tokens", tokens.element),
    card("settings-repositories", "Repositories", repositories),
    card(
      "settings-providers",
      "Connected providers",
      h(
        "p.muted",
        {},
        "Where sessions start besides the workbench. A provider this instance does not configure is simply not in use; its README section says how to set it up.",
      ),
      providerList,
      providerDetails,
    ),
    limits.element,
  );

  const providerRow = (p: ProviderState) => {
    const state =
      p.installations > 0 ? "connected" : p.configured ? "configured" : "not-configured";
    const label = {
      connected: `Connected (${plural(p.installations, "installation")})`,
      configured: "Configured, not connected here",
      "not-configured": "Not configured",
    }[state];
    return h(
      "li",
      { "data-testid": "provider", "data-provider": p.name, "data-state": state },
      h(
        "div",
        {},
        h("strong", {}, p.title ?? TITLES[p.name] ?? p.name),
        WHAT[p.name] ? h("div.muted.small", {}, WHAT[p.name]!) : null,
      ),
      h(
        "span.badge",
        {
          "data-tone":
            state === "connected" ? "success" : state === "configured" ? "accent" : false,
        },
        label,
      ),
    );
  };

  const loadMembers = async () => {
    const { members: list } = await api<{ members: Member[] }>(
      "GET",
      `/api/orgs/${current().id}/members`,
    );
    members.replaceChildren(
      ...list.map((m) =>
        h(
          "li",
          { "data-testid": "member", "data-user": m.userId },
          h(
            "div",
            {},
            h("strong", { "data-testid": "member-name" }, m.name ?? m.email),
            m.name ? h("div.muted.small", {}, m.email) : null,
          ),
          h(
            "span.badge",
            {
              "data-testid": "member-role",
              "data-tone": m.role === "member" ? false : "accent",
            },
            m.role,
          ),
        ),
      ),
    );
  };
  const loadRepositories = async () => {
    const { repositories: list } = await api<{ repositories: unknown[] }>(
      "GET",
      "/api/repositories",
      undefined,
      asOrg(),
    );
    repositories.replaceChildren(
      list.length
        ? `${plural(list.length, "repository", "repositories")} registered. `
        : "No repository yet: sessions need one to work in. ",
      h("a", { href: "/repositories" }, list.length ? "Manage repositories" : "Add a repository"),
    );
  };
  const loadProviders = async () => {
    const { providers } = await api<{ providers: ProviderState[] }>(
      "GET",
      "/api/setup",
      undefined,
      asOrg(),
    );
    providerList.replaceChildren(...providers.map(providerRow));
    // The sections of the configured ones: their installations, defaults and links.
    const shown = providers.filter((p) => p.configured && sections[p.name]);
    providerDetails.replaceChildren(...shown.map((p) => sections[p.name]!.element));
    await Promise.all(shown.map((p) => sections[p.name]!.load()));
  };
  const loadAll = async () => {
    problem.textContent = "";
    await Promise.all(
      [loadMembers(), loadRepositories(), loadProviders(), limits.load(), tokens.load()].map((p) =>
        p.catch((err: Error) => {
          problem.textContent = err.message;
        }),
      ),
    );
  };
  await loadAll();
}
