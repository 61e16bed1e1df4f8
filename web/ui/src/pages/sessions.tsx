import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError } from "../api.ts";
import type { ProfileSummary } from "../profiles.ts";
import { ErrorBox, Field, Page, useApi, type Org } from "../ui/components.tsx";
import { SessionList } from "./session-list.tsx";

const DEFAULT_PROFILE = "default";

interface SetupStep {
  id: string;
  done: boolean;
  title: string;
  detail: string;
  href: string | null;
}

/** What an owner still has to do before the first session, each step with where to do it. */
function SetupChecklist() {
  const setup = useApi<{ steps: SetupStep[]; complete: boolean }>("/api/setup");
  if (!setup.data || setup.data.complete) return null;
  const left = setup.data.steps.filter((s) => !s.done).length;
  return (
    <section class="card setup" data-testid="setup" aria-labelledby="setup-title">
      <h2 id="setup-title">Get started</h2>
      <p class="muted">
        {left} of {setup.data.steps.length} steps left before the agent can take its first task.
      </p>
      <ol class="steps">
        {setup.data.steps.map((s) => (
          <li key={s.id} data-testid={`setup-${s.id}`} data-done={String(s.done)}>
            <span class="check" aria-hidden="true">
              {s.done ? "✓" : ""}
            </span>
            <span class="sr-only">{s.done ? "Done: " : "To do: "}</span>
            <div>
              <strong>{s.title}</strong>
              <p class="muted">{s.detail}</p>
            </div>
            {!s.done && s.href ? (
              <a class="btn" href={s.href}>
                {s.id === "repository" ? "Add a repository" : "Open"}
              </a>
            ) : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

function NewSession({
  repositories,
  profiles,
  admin,
}: {
  repositories: string[];
  profiles: ProfileSummary[];
  admin: boolean;
}) {
  const startable = useMemo(
    () =>
      profiles
        .filter((p) => p.startable)
        .sort((a, b) => Number(b.name === DEFAULT_PROFILE) - Number(a.name === DEFAULT_PROFILE)),
    [profiles],
  );
  const wanted = new URLSearchParams(location.search).get("profile");
  const asked = wanted ? profiles.find((p) => p.name === wanted) : undefined;
  const [profile, setProfile] = useState(
    asked?.startable ? asked.name : (startable[0]?.name ?? ""),
  );
  const [reason, setReason] = useState<string | null>(
    wanted && !asked?.startable
      ? asked
        ? (asked.reason ?? `profile ${wanted} cannot start a session`)
        : `sandbox profile ${wanted} not found`
      : null,
  );
  const primary = (name: string) => startable.find((p) => p.name === name)?.repository;
  const [repository, setRepository] = useState(() => {
    const r = primary(profile);
    return r && repositories.includes(r) ? r : (repositories[0] ?? "");
  });
  const [prompt, setPrompt] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const created = await api<{ id: string }>("POST", "/api/sessions", {
        repository,
        prompt,
        ...(profile ? { profile } : {}),
      });
      location.assign(`/sessions/${created.id}`);
    } catch (err) {
      setError((err as Error).message);
      setBusy(false);
    }
  };
  return (
    <form class="card new-session" onSubmit={submit} aria-labelledby="new-session-title">
      <h2 id="new-session-title">New session</h2>
      <textarea
        name="prompt"
        rows={3}
        aria-label="Task"
        placeholder="What should the agent do?"
        required
        data-testid="prompt"
        value={prompt}
        onInput={(e) => setPrompt(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey))
            (e.currentTarget.form as HTMLFormElement).requestSubmit();
        }}
      />
      <div class="new-session-row">
        <Field label="Repository">
          <select
            name="repository"
            required
            data-testid="repository"
            value={repository}
            onChange={(e) => setRepository(e.currentTarget.value)}
          >
            {repositories.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Profile">
          <select
            name="profile"
            data-testid="profile"
            value={profile}
            onChange={(e) => {
              const name = e.currentTarget.value;
              setProfile(name);
              setReason(null);
              const r = primary(name);
              if (r && repositories.includes(r)) setRepository(r);
            }}
          >
            {startable.map((p) => (
              <option key={p.name} value={p.name}>{`${p.name} (v${p.version})`}</option>
            ))}
          </select>
        </Field>
        <button
          type="submit"
          class="primary"
          disabled={busy || repositories.length === 0}
          data-testid="start"
        >
          Start session
        </button>
      </div>
      {reason ? (
        <p class="error" data-testid="profile-reason">
          {reason}
        </p>
      ) : null}
      {repositories.length === 0 ? (
        <p class="notice" data-testid="no-repositories">
          No repository yet.{" "}
          {admin ? (
            <a href="/repositories" data-testid="add-repository-link">
              Add a repository
            </a>
          ) : (
            "Ask an admin to add one"
          )}{" "}
          to start a session.
        </p>
      ) : null}
      <ErrorBox error={error} />
    </form>
  );
}

/** `/`: the setup steps left (for admins), the New session form and the org's sessions. */
export function SessionsPage({ orgs }: { orgs: Org[] }) {
  const admin = orgs[0] ? orgs[0].role !== "member" : false;
  const repos = useApi<{ repositories: Array<{ name: string }> }>(
    orgs.length ? "/api/repositories" : null,
  );
  const profiles = useApi<{ profiles: ProfileSummary[] }>(orgs.length ? "/api/profiles" : null);
  useEffect(() => {
    document.title = "Sessions · Tandem";
  }, []);
  if (!orgs.length)
    return (
      <Page title="Sessions">
        <p class="notice" data-testid="no-org">
          You are signed in, but you are not a member of any organization yet: ask an admin to add
          you.
        </p>
      </Page>
    );
  const loadError = repos.error ?? profiles.error;
  return (
    <Page title="Sessions">
      {admin ? <SetupChecklist /> : null}
      {repos.data && profiles.data ? (
        <NewSession
          repositories={repos.data.repositories.map((r) => r.name)}
          profiles={profiles.data.profiles}
          admin={admin}
        />
      ) : null}
      <ErrorBox
        error={
          loadError && !(loadError instanceof ApiError && loadError.status === 401)
            ? loadError.message
            : null
        }
      />
      <SessionList repositories={repos.data?.repositories.map((r) => r.name) ?? []} />
    </Page>
  );
}
