import { api, ApiError, h } from "./api.ts";
import type { ProfileSummary } from "./profiles.ts";
import { adminOrgs } from "./settings.ts";

interface SessionView {
  id: string;
  status: string;
  repository: string;
  prompt: string;
  createdAt: string;
  source: string;
  origin: { provider: string; url: string } | null;
  createdBy: { name: string; login: string | null } | null;
}

const SOURCES: Record<string, string> = {
  slack: "Slack",
  github: "GitHub",
  linear: "Linear",
  jira: "Jira",
  discord: "Discord",
};
const sourceLabel = (source: string) => SOURCES[source] ?? "web/api";

/** The link back to where a session came from: "open ENG-12 in Linear", "open in Slack". */
export function originLink(origin: { provider: string; url: string }): HTMLElement {
  // A Linear or Jira issue's URL names it (…/issue/ENG-12/…, …/browse/ENG-12); people know issues by that.
  const issue =
    origin.provider === "linear" || origin.provider === "jira"
      ? /\/(?:issue|browse)\/([A-Za-z0-9]+-\d+)/.exec(origin.url)?.[1]?.toUpperCase()
      : undefined;
  return h(
    "a",
    { href: origin.url, target: "_blank", rel: "noopener", "data-testid": "session-origin" },
    `open ${issue ? `${issue} ` : ""}in ${SOURCES[origin.provider] ?? origin.provider}`,
  );
}

/** One row: status, where it came from (with a link back to the thread), repository, who and when. */
function sessionRow(s: SessionView): HTMLElement {
  const who = s.createdBy
    ? s.createdBy.login
      ? `${s.createdBy.name} (@${s.createdBy.login})`
      : s.createdBy.name
    : "unknown";
  const origin = s.origin ? originLink(s.origin) : null;
  return h(
    "li.session",
    { "data-testid": "session-row", "data-id": s.id },
    h(
      "div.line",
      {},
      h("span.dot", { "data-status": s.status, title: s.status }),
      h("span.status", { "data-testid": "session-status" }, s.status),
      " ",
      h("a", { href: `/sessions/${s.id}` }, s.repository),
      " ",
      h("span.source", { "data-testid": "session-source" }, sourceLabel(s.source)),
      " ",
      origin,
    ),
    h(
      "div.line.muted",
      {},
      h("span", { "data-testid": "session-by" }, who),
      " · ",
      h("time", { datetime: s.createdAt }, new Date(s.createdAt).toLocaleString()),
      " · ",
      s.prompt.slice(0, 120),
    ),
  );
}

/**
 * Fills the profile picker with the profiles that can start a session (the default one first and
 * chosen), picks `?profile=` when it can start, and otherwise says why it cannot. Picking a
 * profile with a primary repository picks that repository too.
 */
function offerProfiles(
  select: HTMLSelectElement,
  reason: HTMLElement,
  repoSelect: HTMLSelectElement,
  profiles: ProfileSummary[],
  wanted: string | null,
) {
  const startable = profiles
    .filter((p) => p.startable)
    .sort((a, b) => Number(b.name === DEFAULT_PROFILE) - Number(a.name === DEFAULT_PROFILE));
  for (const p of startable)
    select.append(h("option", { value: p.name }, `${p.name} (v${p.version})`));
  const pickRepository = () => {
    const repository = startable.find((p) => p.name === select.value)?.repository;
    if (repository && [...repoSelect.options].some((o) => o.value === repository))
      repoSelect.value = repository;
  };
  select.addEventListener("change", () => {
    reason.hidden = true;
    pickRepository();
  });
  const asked = wanted ? profiles.find((p) => p.name === wanted) : undefined;
  if (asked?.startable) select.value = asked.name;
  else if (wanted) {
    reason.hidden = false;
    reason.textContent = asked
      ? (asked.reason ?? `profile ${wanted} cannot start a session`)
      : `sandbox profile ${wanted} not found`;
  }
  pickRepository();
}

const DEFAULT_PROFILE = "default";

/** The sessions of the org, newest first, and the form that starts one. */
export async function renderSessions(app: HTMLElement) {
  const list = h("ul.sessions", { "data-testid": "sessions" });
  const repoSelect = h("select", {
    name: "repository",
    required: true,
    "data-testid": "repository",
  });
  // Only profiles that can start a session now; the org's default profile first.
  const profileSelect = h("select", { name: "profile", "data-testid": "profile" });
  const profileReason = h("p.error", { hidden: true, "data-testid": "profile-reason" });
  const prompt = h("textarea", {
    name: "prompt",
    rows: "3",
    placeholder: "What should the agent do?",
    required: true,
    "data-testid": "prompt",
  });
  const error = h("p.error");
  const form = h(
    "form.new-session",
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        error.textContent = "";
        try {
          const created = await api<{ id: string }>("POST", "/api/sessions", {
            repository: repoSelect.value,
            prompt: prompt.value,
            ...(profileSelect.value ? { profile: profileSelect.value } : {}),
          });
          location.assign(`/sessions/${created.id}`);
        } catch (err) {
          error.textContent = (err as Error).message;
        }
      },
    },
    h("h2", {}, "New session"),
    h("label", {}, "Profile ", profileSelect),
    profileReason,
    h("label", {}, "Repository ", repoSelect),
    prompt,
    h("button", { type: "submit" }, "Start session"),
    error,
  );
  const links = h(
    "nav.links",
    {},
    h("a", { href: "/profiles", "data-testid": "profiles-link" }, "Profiles"),
  );
  const header = h("header.top", {}, h("h1", {}, "Tandem"), links);
  app.append(h("main.narrow", {}, header, form, h("h2", {}, "Sessions"), list));
  void adminOrgs()
    .then((orgs) => {
      if (orgs.length)
        links.append(h("a", { href: "/settings", "data-testid": "settings-link" }, "Settings"));
    })
    .catch(() => {});

  try {
    const [{ repositories }, { sessions }, { profiles }] = await Promise.all([
      api<{ repositories: Array<{ name: string }> }>("GET", "/api/repositories"),
      api<{ sessions: SessionView[] }>("GET", "/api/sessions"),
      api<{ profiles: ProfileSummary[] }>("GET", "/api/profiles"),
    ]);
    for (const r of repositories) repoSelect.append(h("option", { value: r.name }, r.name));
    offerProfiles(
      profileSelect,
      profileReason,
      repoSelect,
      profiles,
      new URLSearchParams(location.search).get("profile"),
    );
    if (!sessions.length) list.append(h("li.empty", {}, "No sessions yet."));
    for (const s of sessions) {
      list.append(sessionRow(s));
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 401)
      location.assign(`/login?next=${encodeURIComponent(location.pathname)}`);
    else if (err instanceof ApiError && err.status === 404) {
      form.replaceWith(
        h(
          "p.notice",
          { "data-testid": "no-org" },
          "You are signed in, but you are not a member of any organization yet: ask an admin to add you.",
        ),
      );
    } else error.textContent = (err as Error).message;
  }
}
