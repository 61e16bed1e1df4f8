import { api, ApiError, h } from "./api.ts";

/** One row of GET /api/profiles. */
export interface ProfileSummary {
  name: string;
  active: boolean;
  version: number | null;
  /** The in-use version's primary repository: the New session form picks it with the profile. */
  repository: string | null;
  latest: { version: number; snapshot: string | null } | null;
  startable: boolean;
  reason: string | null;
}

/** The caller's role in the org the API acts in (their first one, as the server picks it). */
export async function currentRole(): Promise<string | null> {
  const me = await api<{ organizations: Array<{ role: string }> }>("GET", "/api/me");
  return me.organizations[0]?.role ?? null;
}

export const isAdmin = (role: string | null) => role === "owner" || role === "admin";

export const toLogin = () =>
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);

/** `/profiles`: every profile with whether it is active, the version in use and its newest snapshot; admins create them. */
export async function renderProfiles(app: HTMLElement) {
  document.title = "Profiles · Tandem";
  const main = h(
    "main.narrow.profiles-page",
    {},
    h("h1", {}, "Profiles"),
    h(
      "p.muted.lead",
      {},
      "A profile is the sandbox sessions start in: its image, setup script, network and resources. Publishing a draft builds its snapshot; sessions start on the newest ready one.",
    ),
  );
  app.append(main);
  const error = h("p.error", { "data-testid": "profiles-error" });
  let role: string | null;
  let profiles: ProfileSummary[];
  try {
    [role, { profiles }] = await Promise.all([
      currentRole(),
      api<{ profiles: ProfileSummary[] }>("GET", "/api/profiles"),
    ]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    main.append(error);
    error.textContent = (err as Error).message;
    return;
  }

  if (isAdmin(role)) {
    const name = h("input", {
      type: "text",
      name: "name",
      required: true,
      placeholder: "node-22",
      pattern: "[a-z0-9][a-z0-9._\\-]{0,62}",
      "data-testid": "new-profile-name",
    });
    main.append(
      h(
        "form.inline",
        {
          "data-testid": "new-profile",
          onsubmit: async (e: Event) => {
            e.preventDefault();
            error.textContent = "";
            try {
              await api("POST", "/api/profiles", { name: name.value.trim() });
              location.assign(`/profiles/${encodeURIComponent(name.value.trim())}`);
            } catch (err) {
              error.textContent = (err as Error).message;
            }
          },
        },
        h("label", {}, "New profile ", name),
        h("button", { type: "submit" }, "Create"),
      ),
    );
  } else {
    main.append(
      h(
        "p.muted",
        { "data-testid": "read-only" },
        "Only the owners and admins of the organization change profiles.",
      ),
    );
  }
  main.append(error);

  const table = h(
    "table.profiles",
    { "data-testid": "profiles" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "Profile"),
        h("th", {}, "State"),
        h("th", {}, "In use"),
        h("th", {}, "Newest version"),
      ),
    ),
  );
  const body = h("tbody");
  for (const p of profiles) {
    body.append(
      h(
        "tr",
        { "data-testid": "profile-row", "data-name": p.name },
        h("td", {}, h("a", { href: `/profiles/${encodeURIComponent(p.name)}` }, p.name)),
        h("td", { "data-testid": "profile-state" }, p.active ? "active" : "inactive"),
        h("td", { "data-testid": "profile-in-use" }, p.version === null ? "—" : `v${p.version}`),
        h(
          "td",
          { "data-testid": "profile-latest" },
          p.latest
            ? h("span", {}, `v${p.latest.version} `, snapshotBadge(p.latest.snapshot))
            : h("span.muted", {}, "not published"),
          p.reason ? h("div.muted.small", {}, p.reason) : null,
        ),
      ),
    );
  }
  table.append(body);
  main.append(table);
}

/** A snapshot's status as a small coloured label. */
export function snapshotBadge(status: string | null, testid = "snapshot-status"): HTMLElement {
  return h(
    "span.badge",
    { "data-status": status ?? "none", "data-testid": testid },
    status ?? "no snapshot",
  );
}
