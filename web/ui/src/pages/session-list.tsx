import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api.ts";
import { originText, sourceLabel, SOURCE_OPTIONS } from "../origin.ts";
import { Ago, Badge, Empty, ErrorBox, Loading, loginUrl } from "../ui/components.tsx";

export interface SessionView {
  id: string;
  status: string;
  repository: string;
  prompt: string;
  title: string;
  createdAt: string;
  source: string;
  branch: string | null;
  error: string | null;
  pullRequestUrl: string | null;
  diffStat: { files: number; additions: number; deletions: number } | null;
  origin: { provider: string; url: string } | null;
  createdBy: { name: string; login: string | null } | null;
}

interface Page {
  sessions: SessionView[];
  nextBefore: string | null;
}

const STATUSES = ["queued", "starting", "running", "idle", "stopped", "failed"];
const SEARCH_DEBOUNCE_MS = 300;

interface Filters {
  status: string;
  source: string;
  repository: string;
  q: string;
}
const FILTER_KEYS = ["status", "source", "repository", "q"] as const;
const NO_FILTERS: Filters = { status: "", source: "", repository: "", q: "" };

function readFilters(): Filters {
  const params = new URLSearchParams(location.search);
  const get = (k: string) => params.get(k)?.trim() ?? "";
  return {
    status: get("status"),
    source: get("source"),
    repository: get("repository"),
    q: get("q"),
  };
}

/** The filters in the address bar (other parameters kept), so a reload or a shared link keeps them. */
function writeFilters(f: Filters) {
  const params = new URLSearchParams(location.search);
  for (const k of FILTER_KEYS) {
    if (f[k]) params.set(k, f[k]);
    else params.delete(k);
  }
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}`);
}

const queryOf = (f: Filters) => {
  const params = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k]) params.set(k, f[k]);
  return params.toString();
};

/** The server's filters, applied to a session that changed while the page was open. */
const matches = (s: SessionView, f: Filters) =>
  (!f.status || s.status === f.status) &&
  (!f.source || s.source === f.source) &&
  (!f.repository || s.repository === f.repository) &&
  (!f.q || `${s.title}\n${s.prompt}`.toLowerCase().includes(f.q.toLowerCase()));

/**
 * Puts `s` in its place in the newest-first list, or takes it out when it no longer matches. With
 * older pages not read yet (`partial`), a session older than the last row waits for its page.
 */
function upsert(list: SessionView[], s: SessionView, f: Filters, partial = false): SessionView[] {
  const rest = list.filter((r) => r.id !== s.id);
  if (!matches(s, f)) return rest;
  const last = rest.at(-1);
  if (partial && last && s.createdAt < last.createdAt && rest.length === list.length) return rest;
  const at = rest.findIndex((r) => r.createdAt < s.createdAt);
  return at < 0 ? [...rest, s] : [...rest.slice(0, at), s, ...rest.slice(at)];
}

function DiffStat({ stat }: { stat: NonNullable<SessionView["diffStat"]> }) {
  const files = `${stat.files} file${stat.files === 1 ? "" : "s"}`;
  return (
    <span
      class="diffstat"
      data-testid="session-diffstat"
      title={`${stat.additions} lines added, ${stat.deletions} removed in ${files}`}
    >
      <span class="add">+{stat.additions}</span> <span class="del">−{stat.deletions}</span> ·{" "}
      {files}
    </span>
  );
}

function SessionRow({ s }: { s: SessionView }) {
  const who = s.createdBy
    ? s.createdBy.login
      ? `${s.createdBy.name} (@${s.createdBy.login})`
      : s.createdBy.name
    : "unknown";
  return (
    <li class="session-row" data-testid="session-row" data-id={s.id} data-status={s.status}>
      <span class="dot" data-status={s.status} aria-hidden="true" />
      <div class="session-main">
        <a class="session-title" href={`/sessions/${s.id}`} data-testid="session-title">
          {s.title || "(no task)"}
        </a>
        <div class="session-meta muted">
          <span class="repo">{s.repository}</span>
          {s.branch ? <code class="branch">{s.branch}</code> : null}
          <span data-testid="session-source" class="source">
            {sourceLabel(s.source)}
          </span>
          {s.origin ? (
            <a href={s.origin.url} target="_blank" rel="noopener" data-testid="session-origin">
              {originText(s.origin)}
            </a>
          ) : null}
          {s.pullRequestUrl ? (
            <a href={s.pullRequestUrl} target="_blank" rel="noopener" data-testid="session-pr">
              pull request
            </a>
          ) : null}
          {s.diffStat ? <DiffStat stat={s.diffStat} /> : null}
          <span data-testid="session-by">{who}</span>
          <Ago iso={s.createdAt} />
        </div>
        {s.status === "failed" && s.error ? (
          <div class="session-error" data-testid="session-error">
            {s.error}
          </div>
        ) : null}
      </div>
      <Badge status={s.status} testid="session-status">
        {s.status}
      </Badge>
    </li>
  );
}

function FilterBar({
  filters,
  search,
  repositories,
  onChange,
  onSearch,
}: {
  filters: Filters;
  search: string;
  repositories: string[];
  onChange: (f: Partial<Filters>) => void;
  onSearch: (q: string) => void;
}) {
  const select = (
    key: "status" | "source" | "repository",
    label: string,
    all: string,
    options: Array<[string, string]>,
  ) => (
    <label class="filter">
      <span class="sr-only">{label}</span>
      <select
        data-testid={`filter-${key}`}
        name={key}
        value={filters[key]}
        onChange={(e) => onChange({ [key]: e.currentTarget.value })}
      >
        <option value="">{all}</option>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </label>
  );
  // A repository named in the address bar but not registered (any more) stays selectable.
  const repos =
    filters.repository && !repositories.includes(filters.repository)
      ? [...repositories, filters.repository]
      : repositories;
  return (
    <div class="filters" role="search" aria-label="Filter sessions">
      <label class="filter search">
        <span class="sr-only">Search sessions</span>
        <input
          type="search"
          name="q"
          placeholder="Search title and task…"
          data-testid="session-search"
          value={search}
          onInput={(e) => onSearch(e.currentTarget.value)}
        />
      </label>
      {select(
        "status",
        "Status",
        "All statuses",
        STATUSES.map((s) => [s, s]),
      )}
      {select("source", "Source", "All sources", SOURCE_OPTIONS)}
      {select(
        "repository",
        "Repository",
        "All repositories",
        repos.map((r) => [r, r]),
      )}
    </div>
  );
}

const describe = (change: string, s: SessionView) =>
  change === "created"
    ? `New session: ${s.title}`
    : change === "title"
      ? `Session renamed: ${s.title}`
      : change === "status"
        ? `${s.title}: ${s.status}${s.status === "failed" && s.error ? ` (${s.error})` : ""}`
        : `${s.title}: changes updated`;

/**
 * The org's sessions, narrowed by the filters in the address bar, kept current from
 * /api/sessions/stream: a changed row is updated where it is, a new one appears in its place,
 * and a row that no longer matches the filters leaves. Each change is read out politely.
 */
export function SessionList({ repositories }: { repositories: string[] }) {
  const [filters, setFilters] = useState<Filters>(readFilters);
  const [search, setSearch] = useState(filters.q);
  const [rows, setRows] = useState<SessionView[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState("");
  const [reloads, setReloads] = useState(0);
  /** Where the next page starts (the API's nextBefore); null when the list is complete. */
  const [older, setOlder] = useState<string | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const current = useRef(filters);
  current.current = filters;
  const hasOlder = useRef(false);
  hasOlder.current = older !== null;

  const update = (next: Filters) => {
    writeFilters(next);
    setFilters(next);
  };

  useEffect(() => {
    if (search.trim() === current.current.q) return;
    const t = setTimeout(
      () => update({ ...current.current, q: search.trim() }),
      SEARCH_DEBOUNCE_MS,
    );
    return () => clearTimeout(t);
  }, [search]);

  /** What the feed said while the list was being read: applied on top of what the read returns. */
  const arrived = useRef(new Map<string, SessionView | null>());

  useEffect(() => {
    let live = true;
    arrived.current = new Map();
    const query = queryOf(filters);
    api<Page>("GET", `/api/sessions${query ? `?${query}` : ""}`)
      .then((data) => {
        if (!live) return;
        let list = data.sessions;
        for (const [id, s] of arrived.current)
          list = s ? upsert(list, s, current.current) : list.filter((r) => r.id !== id);
        setRows(list);
        setOlder(data.nextBefore);
        setError(null);
      })
      .catch((err: Error) => {
        if (err instanceof ApiError && err.status === 401) location.assign(loginUrl());
        else if (live) setError(err.message);
      });
    return () => {
      live = false;
    };
  }, [filters.status, filters.source, filters.repository, filters.q, reloads]);

  useEffect(() => {
    const stream = new EventSource("/api/sessions/stream");
    let opened = false;
    stream.onopen = () => {
      // After a reconnect the list is read again: changes made while it was away are in it.
      if (opened) setReloads((n) => n + 1);
      opened = true;
    };
    stream.onmessage = (e: MessageEvent<string>) => {
      const { change, session } = JSON.parse(e.data) as { change: string; session: SessionView };
      arrived.current.set(session.id, change === "deleted" ? null : session);
      if (change === "deleted") {
        setRows((list) => list && list.filter((r) => r.id !== session.id));
        return;
      }
      setRows((list) => (list ? upsert(list, session, current.current, hasOlder.current) : list));
      if (matches(session, current.current)) setAnnouncement(describe(change, session));
    };
    return () => stream.close();
  }, []);

  const showOlder = async () => {
    if (!older) return;
    setLoadingOlder(true);
    const query = new URLSearchParams(queryOf(filters));
    query.set("before", older);
    try {
      const data = await api<Page>("GET", `/api/sessions?${query}`);
      // A row already shown (it arrived live meanwhile) stays where it is.
      setRows((list) => {
        const shown = new Set((list ?? []).map((r) => r.id));
        return [...(list ?? []), ...data.sessions.filter((s) => !shown.has(s.id))];
      });
      setOlder(data.nextBefore);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setLoadingOlder(false);
    }
  };

  const filtered = FILTER_KEYS.some((k) => filters[k]);
  return (
    <section aria-labelledby="recent-title">
      <h2 id="recent-title">Recent</h2>
      <FilterBar
        filters={filters}
        search={search}
        repositories={repositories}
        onChange={(f) => update({ ...filters, ...f })}
        onSearch={setSearch}
      />
      <p class="sr-only" aria-live="polite" data-testid="sessions-live">
        {announcement}
      </p>
      <ErrorBox error={error} />
      {rows === null && !error ? <Loading label="Loading sessions…" /> : null}
      {rows && rows.length === 0 && !filtered ? (
        <Empty title="No sessions yet" testid="no-sessions">
          <p>Start one above, or mention the agent in a connected chat or tracker.</p>
        </Empty>
      ) : null}
      {rows && rows.length === 0 && filtered ? (
        <Empty title="No session matches these filters" testid="no-matches">
          <button
            type="button"
            data-testid="clear-filters"
            onClick={() => {
              setSearch("");
              update(NO_FILTERS);
            }}
          >
            Clear filters
          </button>
        </Empty>
      ) : null}
      {rows?.length ? (
        <ul class="sessions" data-testid="sessions">
          {rows.map((s) => (
            <SessionRow key={s.id} s={s} />
          ))}
        </ul>
      ) : null}
      {rows?.length && older ? (
        <div class="more">
          <button
            type="button"
            data-testid="sessions-more"
            disabled={loadingOlder}
            onClick={() => void showOlder()}
          >
            {loadingOlder ? "Loading…" : "Show older sessions"}
          </button>
        </div>
      ) : null}
    </section>
  );
}
