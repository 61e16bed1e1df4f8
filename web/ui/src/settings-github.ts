import { api, h } from "./api.ts";
import { showLoadFailure } from "./settings-state.ts";

interface Org {
  id: string;
  name: string;
}
interface Installation {
  installationId: number;
  account: string | null;
  orgId: string;
  orgName: string;
  repositories: string[];
}

/**
 * Settings → GitHub: the App installations the caller may act on (their org's, and the default
 * org's for its admins), each with its repositories and a button that claims it for this org.
 */
export function githubSection(org: () => Org) {
  const list = h("ul.installations", { "data-testid": "installations" });
  const body = h("div", {}, list);
  const error = h("p.error", { "data-testid": "settings-error" });

  const row = (i: Installation, o: Org) => {
    const claim = h(
      "button",
      {
        "data-testid": "claim",
        onclick: async () => {
          claim.disabled = true;
          try {
            await api("POST", `/api/github/installations/${i.installationId}/claim`, undefined, {
              "x-tandem-org": o.id,
            });
            await load();
          } catch (err) {
            error.textContent = (err as Error).message;
            claim.disabled = false;
          }
        },
      },
      `Claim for ${o.name}`,
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
        i.orgId === o.id ? h("span.muted", {}, "(this org)") : claim,
      ),
      h(
        "ul.repos",
        { "data-testid": "installation-repositories" },
        ...i.repositories.map((r) => h("li", {}, h("code", {}, r))),
      ),
    );
  };

  const load = async () => {
    error.textContent = "";
    const o = org();
    try {
      const { installations } = await api<{ installations: Installation[] }>(
        "GET",
        "/api/github/installations",
        undefined,
        { "x-tandem-org": o.id },
      );
      body.replaceChildren(list);
      list.replaceChildren(
        ...(installations.length
          ? installations.map((i) => row(i, o))
          : [h("li.muted", {}, "No GitHub installations to act on.")]),
      );
    } catch (err) {
      showLoadFailure(err, body, error, "The GitHub App is not configured.");
    }
  };
  return {
    element: h("div.provider-section", {}, h("h3", {}, "GitHub installations"), body, error),
    load,
  };
}
