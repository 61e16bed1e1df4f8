import { api, ApiError, h } from "./api.ts";
import { discordSection } from "./settings-discord.ts";
import { jiraSection } from "./settings-jira.ts";
import { linearSection } from "./settings-linear.ts";

interface Org {
  id: string;
  name: string;
  role: string;
}
interface Installation {
  installationId: number;
  account: string | null;
  orgId: string;
  orgName: string;
  repositories: string[];
}

/** Orgs the caller administers; the header shows Settings only when there is one. */
async function adminOrgs(): Promise<Org[]> {
  const me = await api<{ organizations: Org[] }>("GET", "/api/me");
  return me.organizations.filter((o) => o.role !== "member");
}

/**
 * Settings of the org chosen at the top: whether it allows persistent sandboxes, and the GitHub
 * installations the caller may act on (their org's, and the default org's for its admins), each
 * with a button that claims it for that org.
 */
export async function renderSettings(app: HTMLElement) {
  const main = h("main.narrow", {}, h("h1", {}, "Settings"));
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
    {
      "data-testid": "settings-org",
      onchange: () =>
        void Promise.all([loadSettings(), load(), linear.load(), jira.load(), discord.load()]),
    },
    ...orgs.map((o) => h("option", { value: o.id }, o.name)),
  );
  const persistent = h("input", {
    type: "checkbox",
    "data-testid": "allow-persistent",
    onchange: () => void savePersistent(),
  });
  const settingsError = h("p.error", { "data-testid": "org-settings-error" });
  const list = h("ul.installations", { "data-testid": "installations" });
  const error = h("p.error", { "data-testid": "settings-error" });
  main.append(
    h("label", {}, "Acting for ", orgSelect),
    h("h2", {}, "Organization"),
    h("label.setting", {}, persistent, " Allow persistent sandboxes"),
    h(
      "p.muted",
      {},
      "Sessions on a profile version that opts in keep their workspace and agent home in volumes: a sandbox stopped or removed comes back with its files and the agent's conversation. The volumes are removed when the session is deleted.",
    ),
    settingsError,
    h("h2", {}, "GitHub installations"),
    list,
    error,
  );
  const current = () => orgs.find((o) => o.id === orgSelect.value) ?? orgs[0]!;
  const linear = linearSection(() => current().id);
  const jira = jiraSection(() => current().id);
  const discord = discordSection(() => current().id);
  main.append(linear.element, jira.element, discord.element);
  const settingsUrl = () => `/api/orgs/${current().id}/settings`;

  const loadSettings = async () => {
    settingsError.textContent = "";
    persistent.disabled = true;
    try {
      persistent.checked = (
        await api<{ allowPersistentSandboxes: boolean }>("GET", settingsUrl())
      ).allowPersistentSandboxes;
      persistent.disabled = false;
    } catch (err) {
      settingsError.textContent = (err as Error).message;
    }
  };
  const savePersistent = async () => {
    settingsError.textContent = "";
    persistent.disabled = true;
    try {
      persistent.checked = (
        await api<{ allowPersistentSandboxes: boolean }>("PATCH", settingsUrl(), {
          allowPersistentSandboxes: persistent.checked,
        })
      ).allowPersistentSandboxes;
    } catch (err) {
      persistent.checked = !persistent.checked;
      settingsError.textContent = (err as Error).message;
    } finally {
      persistent.disabled = false;
    }
  };

  const load = async () => {
    error.textContent = "";
    const org = current();
    try {
      const { installations } = await api<{ installations: Installation[] }>(
        "GET",
        "/api/github/installations",
        undefined,
        { "x-tandem-org": org.id },
      );
      list.replaceChildren(
        ...(installations.length
          ? installations.map((i) => row(i, org))
          : [h("li.empty", {}, "No GitHub installations to act on.")]),
      );
    } catch (err) {
      list.replaceChildren();
      error.textContent =
        err instanceof ApiError && err.status === 404
          ? "The GitHub App is not configured."
          : (err as Error).message;
    }
  };
  const row = (i: Installation, org: Org) => {
    const claim = h(
      "button",
      {
        "data-testid": "claim",
        onclick: async () => {
          claim.disabled = true;
          try {
            await api("POST", `/api/github/installations/${i.installationId}/claim`, undefined, {
              "x-tandem-org": org.id,
            });
            await load();
          } catch (err) {
            error.textContent = (err as Error).message;
            claim.disabled = false;
          }
        },
      },
      `Claim for ${org.name}`,
    );
    return h(
      "li",
      { "data-testid": "installation", "data-installation": String(i.installationId) },
      h(
        "div",
        {},
        h("strong", {}, i.account ?? `installation ${i.installationId}`),
        " in ",
        h("span", { "data-testid": "installation-org" }, i.orgName),
        " ",
        i.orgId === org.id ? h("span.muted", {}, "(this org)") : claim,
      ),
      h(
        "ul.repos",
        { "data-testid": "installation-repositories" },
        ...i.repositories.map((r) => h("li", {}, h("code", {}, r))),
      ),
    );
  };
  await Promise.all([loadSettings(), load(), linear.load(), jira.load(), discord.load()]);
}
