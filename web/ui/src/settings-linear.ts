import { api, ApiError, h } from "./api.ts";

interface Team {
  id: string;
  key: string;
  name: string;
  repository: string | null;
}
interface Workspace {
  id: string;
  name: string | null;
  urlKey: string | null;
  connectedWith: "oauth" | "api key";
  teams: Team[];
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

  const teamRow = (w: Workspace, t: Team, repositories: string[]) => {
    const select = h(
      "select",
      {
        "data-testid": "linear-team-repository",
        "data-team": t.key,
        onchange: async () => {
          error.textContent = "";
          select.disabled = true;
          try {
            await api(
              "PUT",
              `/api/linear/workspaces/${w.id}/teams/${t.id}`,
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
      h("option", { value: "" }, "none (ask, or the only one)"),
      ...repositories.map((r) => h("option", { value: r, selected: r === t.repository }, r)),
    );
    return h("tr", {}, h("td", {}, h("code", {}, t.key), " ", t.name), h("td", {}, select));
  };

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
                w.teams.length
                  ? h(
                      "table.teams",
                      {},
                      h(
                        "thead",
                        {},
                        h(
                          "tr",
                          {},
                          h("th", {}, "Team"),
                          h("th", {}, "Repository when none is named"),
                        ),
                      ),
                      h("tbody", {}, ...w.teams.map((t) => teamRow(w, t, names))),
                    )
                  : "",
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
      body.replaceChildren();
      error.textContent =
        err instanceof ApiError && err.status === 404
          ? "Linear is not configured (LINEAR_WEBHOOK_SECRET and LINEAR_API_KEY or the OAuth app)."
          : (err as Error).message;
    }
  };
  return { element: h("div", {}, h("h2", {}, "Linear"), body, error), load };
}
