import { api, h } from "./api.ts";
import { showLoadFailure } from "./settings-state.ts";

interface Team {
  id: string;
  key: string;
  name: string;
  repository: string | null;
}
interface Project {
  id: string;
  name: string;
  repository: string | null;
}
interface Workspace {
  id: string;
  name: string | null;
  urlKey: string | null;
  connectedWith: "oauth" | "api key";
  teams: Team[];
  projects: Project[];
  problem: string | null;
}

/**
 * Settings → Linear: the org's connected Linear workspaces (and the install link when the OAuth
 * app is set up), each team with the repository its issues work in when none is named.
 */
export function linearSection(orgId: () => string) {
  const body = h("div", { "data-testid": "linear" });
  const error = h("p.error", { "data-testid": "linear-error" });
  const asOrg = () => ({ "x-tandem-org": orgId() });

  /** A team's or project's row: its name and the repository its issues work in when none is named. */
  const defaultRow = (
    w: Workspace,
    kind: "teams" | "projects",
    item: { id: string; repository: string | null },
    label: Node | string,
    testKey: string,
    repositories: string[],
  ) => {
    const select = h(
      "select",
      {
        "data-testid": kind === "teams" ? "linear-team-repository" : "linear-project-repository",
        "data-key": testKey,
        "aria-label": `Repository for ${kind === "teams" ? "team" : "project"} ${testKey} when none is named`,
        onchange: async () => {
          error.textContent = "";
          select.disabled = true;
          try {
            await api(
              "PUT",
              `/api/linear/workspaces/${w.id}/${kind}/${item.id}`,
              { repository: select.value || null },
              asOrg(),
            );
          } catch (err) {
            error.textContent = (err as Error).message;
          } finally {
            select.disabled = false;
          }
        },
      },
      h("option", { value: "" }, kind === "teams" ? "none (ask, or the only one)" : "the team's"),
      ...repositories.map((r) => h("option", { value: r, selected: r === item.repository }, r)),
    );
    return h("tr", {}, h("td", {}, label), h("td", {}, select));
  };
  const table = (heading: string, rows: HTMLElement[]) =>
    rows.length
      ? h(
          "table.teams",
          {},
          h(
            "thead",
            {},
            h("tr", {}, h("th", {}, heading), h("th", {}, "Repository when none is named")),
          ),
          h("tbody", {}, ...rows),
        )
      : "";

  const load = async () => {
    error.textContent = "";
    try {
      const [{ installUrl, workspaces }, { repositories }] = await Promise.all([
        api<{ installUrl: string | null; workspaces: Workspace[] }>(
          "GET",
          "/api/linear",
          undefined,
          asOrg(),
        ),
        api<{ repositories: Array<{ name: string }> }>(
          "GET",
          "/api/repositories",
          undefined,
          asOrg(),
        ),
      ]);
      const names = repositories.map((r) => r.name);
      body.replaceChildren(
        ...(workspaces.length
          ? workspaces.map((w) =>
              h(
                "section.workspace",
                { "data-testid": "linear-workspace", "data-workspace": w.id },
                h(
                  "div",
                  {},
                  h("strong", {}, w.name ?? w.id),
                  w.urlKey ? h("span.muted", {}, ` linear.app/${w.urlKey}`) : "",
                  h(
                    "span.muted",
                    {},
                    ` · connected with ${w.connectedWith === "oauth" ? "the app install" : "LINEAR_API_KEY"}`,
                  ),
                ),
                w.problem ? h("p.error", {}, w.problem) : "",
                table(
                  "Team",
                  w.teams.map((t) =>
                    defaultRow(
                      w,
                      "teams",
                      t,
                      h("span", {}, h("code", {}, t.key), " ", t.name),
                      t.key,
                      names,
                    ),
                  ),
                ),
                table(
                  "Project",
                  w.projects.map((p) => defaultRow(w, "projects", p, p.name, p.name, names)),
                ),
              ),
            )
          : [h("p.empty", {}, "No Linear workspace is connected to this organization.")]),
        installUrl
          ? h(
              "p",
              {},
              h(
                "a.button",
                { href: installUrl, "data-testid": "linear-install" },
                "Connect a Linear workspace",
              ),
            )
          : "",
      );
    } catch (err) {
      showLoadFailure(
        err,
        body,
        error,
        "Linear is not configured (LINEAR_WEBHOOK_SECRET and LINEAR_API_KEY or the OAuth app).",
      );
    }
  };
  return { element: h("div.provider-section", {}, h("h3", {}, "Linear"), body, error), load };
}
