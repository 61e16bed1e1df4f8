import { api, ApiError, h } from "./api.ts";

interface SessionView { id: string; status: string; repository: string; prompt: string; createdAt: string }

/** The sessions of the org, newest first, and the form that starts one. */
export async function renderSessions(app: HTMLElement) {
  const list = h("ul.sessions", { "data-testid": "sessions" });
  const repoSelect = h("select", { name: "repository", required: true, "data-testid": "repository" });
  const prompt = h("textarea", { name: "prompt", rows: "3", placeholder: "What should the agent do?", required: true, "data-testid": "prompt" });
  const error = h("p.error");
  const form = h("form.new-session", {
    onsubmit: async (e: Event) => {
      e.preventDefault();
      error.textContent = "";
      try {
        const created = await api<{ id: string }>("POST", "/api/sessions", { repository: repoSelect.value, prompt: prompt.value });
        location.assign(`/sessions/${created.id}`);
      } catch (err) {
        error.textContent = (err as Error).message;
      }
    },
  }, h("h2", {}, "New session"), h("label", {}, "Repository ", repoSelect), prompt, h("button", { type: "submit" }, "Start session"), error);
  app.append(h("main.narrow", {}, h("h1", {}, "Tandem"), form, h("h2", {}, "Sessions"), list));

  try {
    const [{ repositories }, { sessions }] = await Promise.all([
      api<{ repositories: Array<{ name: string }> }>("GET", "/api/repositories"),
      api<{ sessions: SessionView[] }>("GET", "/api/sessions"),
    ]);
    for (const r of repositories) repoSelect.append(h("option", { value: r.name }, r.name));
    if (!sessions.length) list.append(h("li.empty", {}, "No sessions yet."));
    for (const s of sessions) {
      list.append(h("li", {}, h("span.dot", { "data-status": s.status, title: s.status }), h("a", { href: `/sessions/${s.id}` }, s.repository),
        " ", h("span.muted", {}, s.prompt.slice(0, 120)), " ", h("span.muted", {}, new Date(s.createdAt).toLocaleString())));
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    else if (err instanceof ApiError && err.status === 404) {
      form.replaceWith(h("p.notice", { "data-testid": "no-org" }, "You are signed in, but you are not a member of any organization yet: ask an admin to add you."));
    } else error.textContent = (err as Error).message;
  }
}
