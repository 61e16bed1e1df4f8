import { useEffect, useState } from "preact/hooks";
import { api } from "../api.ts";
import {
  Ago,
  Badge,
  Empty,
  ErrorBox,
  Field,
  Loading,
  Page,
  useApi,
  type Org,
} from "../ui/components.tsx";

interface Repository {
  id: string;
  name: string;
  cloneUrl: string;
  defaultBranch: string;
  hasCredential: boolean;
  createdAt: string;
}
interface Probe {
  ok: boolean;
  head: string | null;
  branchFound: boolean;
  error: string | null;
  durationMs: number;
}

/** The add and edit form: remote, default branch, and a credential that is written, never read back. */
function RepositoryForm({
  repo,
  onDone,
  onCancel,
}: {
  repo?: Repository;
  onDone: () => void;
  onCancel?: () => void;
}) {
  const [name, setName] = useState(repo?.name ?? "");
  const [cloneUrl, setCloneUrl] = useState(repo?.cloneUrl ?? "");
  const [defaultBranch, setDefaultBranch] = useState(repo?.defaultBranch ?? "main");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [removeCredential, setRemoveCredential] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const credential = password ? { username: username || "x-access-token", password } : undefined;

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (repo)
        await api("PATCH", `/api/repositories/${repo.id}`, {
          cloneUrl,
          defaultBranch,
          ...(credential ? { credential } : removeCredential ? { credential: null } : {}),
        });
      else
        await api("POST", "/api/repositories", {
          name,
          cloneUrl,
          defaultBranch,
          ...(credential ? { credential } : {}),
        });
      onDone();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const prefix = repo ? `edit-${repo.id}` : "add";
  return (
    <form
      class="card form"
      onSubmit={submit}
      data-testid={repo ? "edit-repository" : "add-repository"}
      aria-label={repo ? `Edit ${repo.name}` : "Add a repository"}
    >
      {repo ? null : <h2>Add a repository</h2>}
      <div class="grid2">
        {repo ? null : (
          <Field label="Name" hint="owner/repo, as people will name it in chat">
            <input
              id={`${prefix}-name`}
              name="name"
              required
              placeholder="acme/app"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </Field>
        )}
        <Field label="Remote URL" hint="https or ssh; for a file:// path see the README">
          <input
            name="cloneUrl"
            type="url"
            required
            placeholder="https://git.example.com/acme/app.git"
            value={cloneUrl}
            onInput={(e) => setCloneUrl(e.currentTarget.value)}
          />
        </Field>
        <Field label="Default branch">
          <input
            name="defaultBranch"
            required
            value={defaultBranch}
            onInput={(e) => setDefaultBranch(e.currentTarget.value)}
          />
        </Field>
      </div>
      <fieldset class="credential">
        <legend>
          Credential{" "}
          <span class="muted">(for a private remote; stored encrypted, never shown again)</span>
        </legend>
        <div class="grid2">
          <Field label="Username">
            <input
              name="username"
              autocomplete="off"
              placeholder="x-access-token"
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
          </Field>
          <Field label="Password or token">
            <input
              name="password"
              type="password"
              autocomplete="new-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </Field>
        </div>
        {repo?.hasCredential ? (
          <label class="check-label">
            <input
              type="checkbox"
              checked={removeCredential}
              onChange={(e) => setRemoveCredential(e.currentTarget.checked)}
            />{" "}
            Remove the stored credential
          </label>
        ) : null}
      </fieldset>
      <ErrorBox error={error} testid="repository-error" />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {repo ? "Save" : "Add repository"}
        </button>
        {onCancel ? (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

function RepositoryRow({
  repo,
  admin,
  onChange,
}: {
  repo: Repository;
  admin: boolean;
  onChange: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [probe, setProbe] = useState<Probe | null>(null);
  const [testing, setTesting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const test = async () => {
    setTesting(true);
    setProbe(null);
    try {
      setProbe(await api<Probe>("POST", `/api/repositories/${repo.id}/test`));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setTesting(false);
    }
  };
  const remove = async () => {
    if (!confirm(`Remove ${repo.name}? Sessions can no longer start in it.`)) return;
    setError(null);
    try {
      await api("DELETE", `/api/repositories/${repo.id}`);
      onChange();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <li class="repo-row" data-testid="repository-row" data-name={repo.name}>
      <div class="repo-head">
        <div class="repo-main">
          <strong>{repo.name}</strong>
          <div class="muted small">
            <code>{repo.cloneUrl}</code> · <code>{repo.defaultBranch}</code> ·{" "}
            {repo.hasCredential ? "credential stored" : "no credential"} · added{" "}
            <Ago iso={repo.createdAt} />
          </div>
        </div>
        {admin ? (
          <div class="actions">
            <button type="button" onClick={test} disabled={testing} data-testid="test-repository">
              {testing ? "Testing…" : "Test clone"}
            </button>
            <button
              type="button"
              onClick={() => setEditing(!editing)}
              aria-expanded={editing}
              data-testid="edit-repository-button"
            >
              Edit
            </button>
            <button type="button" class="danger" onClick={remove} data-testid="delete-repository">
              Delete
            </button>
          </div>
        ) : null}
      </div>
      {probe ? (
        <div class="probe" data-testid="probe" data-ok={String(probe.ok)} role="status">
          {probe.ok ? (
            <p>
              <Badge tone="success">reachable</Badge>{" "}
              {probe.head ? (
                <>
                  HEAD <code>{probe.head.slice(0, 12)}</code>,{" "}
                </>
              ) : null}
              default branch {probe.branchFound ? "found" : <strong>not found</strong>} (
              {probe.durationMs} ms)
            </p>
          ) : (
            <>
              <p>
                <Badge tone="danger">clone failed</Badge> git said:
              </p>
              <pre class="log" data-testid="probe-error">
                {probe.error}
              </pre>
            </>
          )}
        </div>
      ) : null}
      <ErrorBox error={error} testid="repository-row-error" />
      {editing ? (
        <RepositoryForm
          repo={repo}
          onCancel={() => setEditing(false)}
          onDone={() => {
            setEditing(false);
            onChange();
          }}
        />
      ) : null}
    </li>
  );
}

/** `/repositories`: what sessions can work in; admins add, edit, test and remove them. */
export function RepositoriesPage({ orgs }: { orgs: Org[] }) {
  const admin = orgs[0] ? orgs[0].role !== "member" : false;
  const repos = useApi<{ repositories: Repository[] }>("/api/repositories");
  // A new key after each add gives an empty form.
  const [added, setAdded] = useState(0);
  useEffect(() => {
    document.title = "Repositories · Tandem";
  }, []);
  return (
    <Page title="Repositories">
      <p class="muted lead">
        Sessions check out one of these remotes in their sandbox. Credentials stay in Tandem: the
        sandbox asks for them through Tandem's git credential helper.
      </p>
      {admin ? (
        <RepositoryForm
          key={added}
          onDone={() => {
            setAdded((n) => n + 1);
            repos.reload();
          }}
        />
      ) : null}
      <h2>Registered</h2>
      {repos.loading ? <Loading /> : null}
      <ErrorBox error={repos.error?.message ?? null} />
      {repos.data && repos.data.repositories.length === 0 ? (
        <Empty title="No repositories yet" testid="no-repositories">
          <p>
            {admin ? "Add the first one above." : "Ask an admin of your organization to add one."}
          </p>
        </Empty>
      ) : null}
      {repos.data?.repositories.length ? (
        <ul class="repos" data-testid="repositories">
          {repos.data.repositories.map((r) => (
            <RepositoryRow key={r.id} repo={r} admin={admin} onChange={repos.reload} />
          ))}
        </ul>
      ) : null}
    </Page>
  );
}
