import { api, ApiError, csrfToken, h } from "./api.ts";
import { renderDiff } from "./profile-diff.ts";
import { specForm, type ProfileDefaults, type ProfileSpec } from "./profile-form.ts";
import { currentRole, isAdmin, snapshotBadge, toLogin } from "./profiles.ts";

interface Snapshot {
  id: string;
  status: string;
  imageRef: string | null;
  createdAt: string;
  finishedAt: string | null;
  log: string;
  trigger?: string;
}
interface Version {
  id: string;
  version: number;
  status: string;
  spec: ProfileSpec;
  publishedAt: string | null;
  snapshot: Snapshot | null;
}
interface ProfileView {
  name: string;
  active: boolean;
  refreshCron: string | null;
  draft: Version | null;
  published: Version[];
  inUse: number | null;
  defaults?: ProfileDefaults;
}

/** Polled every second while a snapshot builds, and now and then otherwise (a schedule, another admin). */
const POLL_MS = 1000;
const IDLE_POLL_MS = 5000;
const building = (v: ProfileView) =>
  v.published.some((p) => p.snapshot?.status === "queued" || p.snapshot?.status === "running");

/**
 * `/profiles/:name`: the newest snapshot's status, live; the draft's spec in sections (admins edit,
 * save, test its setup script and publish) with what it changes from the newest published
 * version; the published versions with their snapshots; and the profile's schedule and state.
 */
export async function renderProfile(app: HTMLElement, name: string) {
  const url = `/api/profiles/${encodeURIComponent(name)}`;
  document.title = `${name} · Profiles · Tandem`;
  const main = h(
    "main.narrow.profile-page",
    {},
    h(
      "nav.crumbs",
      { "aria-label": "Breadcrumb" },
      h("a", { href: "/profiles" }, "Profiles"),
      h("span", { "aria-hidden": "true" }, " / "),
    ),
    h("h1", {}, name),
  );
  const about = h("p.muted.lead", { "data-testid": "profile-description" });
  app.append(main);
  let view: ProfileView;
  let role: string | null;
  let repositories: string[];
  try {
    [view, role, { repositories }] = await Promise.all([
      api<ProfileView>("GET", url),
      currentRole(),
      api<{ repositories: Array<{ name: string }> }>("GET", "/api/repositories").then((r) => ({
        repositories: r.repositories.map((x) => x.name),
      })),
    ]);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return toLogin();
    return void main.append(
      h("p.error", { "data-testid": "profile-error" }, (err as Error).message),
    );
  }
  const admin = isAdmin(role);

  // Summary and settings: active, refresh schedule, rebuild now.
  const summary = h("p", { "data-testid": "profile-summary" });
  const settingsError = h("p.error", { "data-testid": "profile-settings-error" });
  const active = h("input", {
    type: "checkbox",
    checked: view.active,
    disabled: !admin,
    "data-testid": "profile-active",
  });
  const cron = h("input", {
    type: "text",
    value: view.refreshCron ?? "",
    placeholder: "e.g. 0 4 * * 1 (UTC); empty for none",
    disabled: !admin,
    "data-testid": "profile-cron",
  });
  const settle = async (what: () => Promise<unknown>) => {
    settingsError.textContent = "";
    try {
      await what();
    } catch (err) {
      settingsError.textContent = (err as Error).message;
    }
    await reload();
  };
  active.addEventListener(
    "change",
    () => void settle(() => api("PATCH", url, { active: active.checked })),
  );
  const settings = h(
    "section.card.profile-settings",
    { "data-testid": "profile-settings" },
    h("label.check-label", {}, active, " Active: new sessions may start on this profile"),
    h(
      "form.inline.cron",
      {
        onsubmit: (e: Event) => {
          e.preventDefault();
          void settle(() => api("PATCH", url, { refreshCron: cron.value.trim() || null }));
        },
      },
      h(
        "label.field",
        {},
        h("span", {}, "Rebuild the snapshot on a schedule"),
        cron,
        h("small.hint", {}, "cron in UTC; the newest published version is rebuilt"),
      ),
      admin
        ? h("button", { type: "submit", "data-testid": "profile-cron-save" }, "Save schedule")
        : null,
    ),
    h(
      "div.actions",
      {},
      admin
        ? h(
            "button",
            {
              "data-testid": "refresh-snapshot",
              onclick: () => void settle(() => api("POST", `${url}/refresh`)),
            },
            "Refresh snapshot now",
          )
        : null,
      " ",
      // The API refuses the default profile and one that sessions started on, and says so.
      admin
        ? h(
            "button.danger",
            {
              "data-testid": "delete-profile",
              onclick: async () => {
                if (!confirm(`Delete the profile ${name} with its versions and snapshots?`)) return;
                settingsError.textContent = "";
                try {
                  await api("DELETE", url);
                  location.assign("/profiles");
                } catch (err) {
                  settingsError.textContent = (err as Error).message;
                }
              },
            },
            "Delete profile",
          )
        : null,
    ),
    settingsError,
  );

  // The draft.
  const form = specForm(
    // No draft yet: an empty one, with the server's default network policy (no egress).
    view.draft?.spec ?? {
      agent: {},
      repositories: [],
      setupScript: "",
      env: {},
      integrations: [],
      network: { egress: "none", allow: [] },
    },
    { readOnly: !admin, repositories, name, defaults: view.defaults ?? null },
  );
  const diff = h("section.draft-diff", { "data-testid": "draft-diff", "aria-live": "polite" });
  const showDiff = () => {
    const newest = view.published[0];
    renderDiff(diff, form.read(), newest ? { version: newest.version, spec: newest.spec } : null);
  };
  // After the change is applied (a Remove button takes its row away on the same click).
  const diffSoon = () => setTimeout(showDiff, 0);
  for (const type of ["input", "change", "click"]) form.element.addEventListener(type, diffSoon);
  let saved = JSON.stringify(form.read());
  const draftError = h("p.error", { "data-testid": "draft-error" });
  const draftNote = h("p.muted", { "data-testid": "draft-note" });
  const testLog = h("pre.log", { hidden: true, "data-testid": "test-log" });
  const save = async () => {
    const spec = form.read();
    if (JSON.stringify(spec) === saved) return;
    await api("PUT", `${url}/draft`, { spec });
    saved = JSON.stringify(spec);
  };
  const act = (button: HTMLButtonElement, what: () => Promise<string | void>) => async () => {
    draftError.textContent = "";
    draftNote.textContent = "";
    button.disabled = true;
    try {
      draftNote.textContent = (await what()) ?? "";
    } catch (err) {
      draftError.textContent = (err as Error).message;
    } finally {
      button.disabled = false;
    }
  };
  const saveButton = h("button", { type: "button", "data-testid": "save-draft" }, "Save draft");
  saveButton.addEventListener(
    "click",
    act(saveButton, async () => {
      await save();
      return "Draft saved.";
    }),
  );
  const publishButton = h(
    "button.primary",
    { type: "button", "data-testid": "publish" },
    "Publish",
  );
  publishButton.addEventListener(
    "click",
    act(publishButton, async () => {
      await save();
      const published = await api<{ version: number; snapshot: Snapshot }>(
        "POST",
        `${url}/publish`,
      );
      await reload();
      // The live note above follows its snapshot from here.
      return `Published v${published.version}.`;
    }),
  );
  const testButton = h(
    "button",
    { type: "button", "data-testid": "test-setup" },
    "Test setup script",
  );
  const stopButton = h(
    "button",
    { type: "button", hidden: true, "data-testid": "test-stop" },
    "Stop test",
  );
  let running: AbortController | undefined;
  stopButton.addEventListener("click", () => running?.abort());
  testButton.addEventListener(
    "click",
    act(testButton, async () => {
      await save();
      running = new AbortController();
      stopButton.hidden = false;
      testLog.hidden = false;
      testLog.textContent = "";
      testLog.dataset.done = "false";
      try {
        await streamInto(testLog, `${url}/draft/test`, running.signal);
      } catch (err) {
        if (running.signal.aborted) testLog.append("\n[stopped]\n");
        else throw err;
      } finally {
        stopButton.hidden = true;
        testLog.dataset.done = "true";
      }
    }),
  );
  const showTest = () => {
    testButton.hidden = form.setupScript.value.trim() === "";
  };
  form.setupScript.addEventListener("input", showTest);
  showTest();
  const draftTitle = h("h2", {}, `Draft v${view.draft?.version ?? "?"}`);
  const draft = h(
    "section",
    { "data-testid": "draft" },
    draftTitle,
    form.element,
    diff,
    admin ? h("div.actions", {}, publishButton, saveButton, testButton, stopButton) : null,
    draftError,
    draftNote,
    testLog,
  );

  // Published versions, newest first, each with its newest snapshot and log.
  const versions = h("ol.versions", { "data-testid": "versions" });
  const open = new Set<number>();
  const renderVersions = () => {
    versions.replaceChildren(
      ...(view.published.length
        ? view.published.map((v, i) => {
            const log = h(
              "details",
              {
                id: `v${v.version}-log`,
                open: open.has(v.version) || (i === 0 && !open.size),
                ontoggle: (e: Event) => {
                  if ((e.target as HTMLDetailsElement).open) open.add(v.version);
                  else open.delete(v.version);
                },
              },
              h("summary", {}, "Snapshot log"),
              h("pre.log", { "data-testid": "snapshot-log" }, v.snapshot?.log || "(empty)"),
            );
            return h(
              "li",
              { "data-testid": "version", "data-version": String(v.version) },
              h(
                "div.line",
                {},
                h("strong", {}, `v${v.version}`),
                " ",
                snapshotBadge(v.snapshot?.status ?? null),
                v.version === view.inUse
                  ? h("span.badge", { "data-status": "in-use" }, "in use")
                  : null,
                h("span.muted", {}, ` published ${new Date(v.publishedAt!).toLocaleString()}`),
                v.snapshot?.trigger ? h("span.muted", {}, ` · ${v.snapshot.trigger}`) : null,
                v.snapshot?.imageRef ? h("code.small", {}, v.snapshot.imageRef) : null,
              ),
              log,
            );
          })
        : [h("li.empty", {}, "Not published yet.")]),
    );
  };

  // The newest published version's snapshot, as it builds: the page's live note.
  const live = h("p.snapshot-live", { role: "status", "data-testid": "snapshot-live" });
  const renderLive = () => {
    const newest = view.published[0];
    const status = newest?.snapshot?.status ?? "none";
    live.dataset.status = status;
    if (!newest)
      return void live.replaceChildren("No snapshot yet: publishing the draft builds the first.");
    const detail: Record<string, string> = {
      queued: "— waiting for a worker to build it",
      running: "— building now",
      ready: "— sessions start from it",
      failed: "— the build failed; the log says why",
      none: "— not built",
    };
    live.replaceChildren(
      `Snapshot of v${newest.version}: `,
      snapshotBadge(newest.snapshot?.status ?? null, "snapshot-live-status"),
      ` ${detail[status] ?? ""} · `,
      h(
        "a",
        {
          href: `#v${newest.version}-log`,
          "data-testid": "snapshot-live-log",
          onclick: () => {
            open.add(newest.version);
            const details = document.getElementById(`v${newest.version}-log`);
            if (details instanceof HTMLDetailsElement) details.open = true;
          },
        },
        "View log",
      ),
    );
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  async function reload() {
    clearTimeout(timer);
    try {
      view = await api<ProfileView>("GET", url);
    } catch (err) {
      settingsError.textContent = (err as Error).message;
    }
    render();
  }
  let shownVersions = "";
  const render = () => {
    active.checked = view.active;
    if (document.activeElement !== cron) cron.value = view.refreshCron ?? "";
    draftTitle.textContent = `Draft v${view.draft?.version ?? "?"}`;
    summary.replaceChildren(
      h(
        "span",
        { "data-testid": "profile-in-use" },
        view.inUse === null
          ? "No version is ready for sessions yet."
          : `Sessions start on v${view.inUse}.`,
      ),
      " ",
      view.active ? "" : h("strong", {}, "Inactive. "),
      view.inUse !== null && view.active
        ? h(
            "a",
            {
              href: `/?profile=${encodeURIComponent(view.name)}`,
              "data-testid": "start-on-profile",
            },
            "Start a session on it",
          )
        : "",
    );
    // Drawn again only when they changed, so an open log keeps its place between polls.
    const published = JSON.stringify(view.published);
    if (published !== shownVersions) {
      shownVersions = published;
      renderVersions();
      showDiff();
    }
    renderLive();
    // What the version in use says it is for (the draft's until one is published).
    about.textContent = (view.published[0] ?? view.draft)?.spec.description ?? "";
    about.hidden = !about.textContent;
    timer = setTimeout(() => void reload(), building(view) ? POLL_MS : IDLE_POLL_MS);
  };
  main.append(
    about,
    h("div.card.profile-status", {}, summary, live),
    admin
      ? ""
      : h(
          "p.muted",
          { "data-testid": "read-only" },
          "Only the owners and admins of the organization change profiles.",
        ),
    draft,
    h("h2", {}, "Published versions"),
    versions,
    h("h2", {}, "Schedule and state"),
    settings,
  );
  render();
}

/** POSTs and appends the text/plain response to `pane` as it arrives; a JSON error becomes the thrown message. */
async function streamInto(pane: HTMLElement, url: string, signal: AbortSignal) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "x-csrf-token": csrfToken() },
    credentials: "same-origin",
    signal,
  });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new ApiError(res.status, data?.error?.message ?? res.statusText);
  }
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    const follow = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
    pane.append(value);
    if (follow) pane.scrollTop = pane.scrollHeight;
  }
}
