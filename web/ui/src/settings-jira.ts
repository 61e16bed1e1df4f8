import { api, h } from "./api.ts";
import { showLoadFailure } from "./settings-state.ts";

interface Project {
  key: string;
  name: string;
  repository: string | null;
}
interface Site {
  url: string;
  agent: { accountId: string; displayName: string } | null;
  webhookUrl: string;
  triggerLabel: string;
  moveToInProgress: boolean;
  problem: string | null;
}

/**
 * Settings → Jira: the site bound to this org, the agent's account, the webhook to register, and
 * each project with the repository its issues work in when none is named.
 */
export function jiraSection(orgId: () => string) {
  const body = h("div", { "data-testid": "jira" });
  const error = h("p.error", { "data-testid": "jira-error" });
  const asOrg = () => ({ "x-tandem-org": orgId() });

  const projectRow = (p: Project, repositories: string[]) => {
    const select = h(
      "select",
      {
        "data-testid": "jira-project-repository",
        "data-key": p.key,
        "aria-label": `Repository for project ${p.key} when none is named`,
        onchange: async () => {
          error.textContent = "";
          select.disabled = true;
          try {
            await api(
              "PUT",
              `/api/jira/projects/${encodeURIComponent(p.key)}`,
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
      ...repositories.map((r) => h("option", { value: r, selected: r === p.repository }, r)),
    );
    return h("tr", {}, h("td", {}, h("code", {}, p.key), " ", p.name), h("td", {}, select));
  };

  const load = async () => {
    error.textContent = "";
    try {
      const [{ site, projects }, { repositories }] = await Promise.all([
        api<{ site: Site | null; projects: Project[] }>("GET", "/api/jira", undefined, asOrg()),
        api<{ repositories: Array<{ name: string }> }>(
          "GET",
          "/api/repositories",
          undefined,
          asOrg(),
        ),
      ]);
      if (!site)
        return void body.replaceChildren(
          h("p.empty", {}, "The Jira site is connected to another organization."),
        );
      const names = repositories.map((r) => r.name);
      body.replaceChildren(
        h(
          "section.workspace",
          { "data-testid": "jira-site" },
          h(
            "div",
            {},
            h("strong", {}, new URL(site.url).host),
            h(
              "span.muted",
              {},
              site.agent ? ` · as ${site.agent.displayName} (${site.agent.accountId})` : "",
            ),
          ),
          h(
            "p.muted",
            {},
            "Admin webhook: ",
            h("code", { "data-testid": "jira-webhook-url" }, site.webhookUrl),
            ` (its secret: the value of JIRA_WEBHOOK_SECRET; events Issue created and updated, Comment created). Mention the agent, assign it an issue, or add the label `,
            h("code", {}, site.triggerLabel),
            site.moveToInProgress ? "; issues move to In Progress when work begins." : ".",
          ),
          site.problem ? h("p.error", {}, site.problem) : "",
          projects.length
            ? h(
                "table.teams",
                {},
                h(
                  "thead",
                  {},
                  h("tr", {}, h("th", {}, "Project"), h("th", {}, "Repository when none is named")),
                ),
                h("tbody", {}, ...projects.map((p) => projectRow(p, names))),
              )
            : "",
        ),
      );
    } catch (err) {
      showLoadFailure(
        err,
        body,
        error,
        "Jira is not configured (JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN and JIRA_WEBHOOK_SECRET).",
      );
    }
  };
  return { element: h("div.provider-section", {}, h("h3", {}, "Jira"), body, error), load };
}
