import { useEffect, useState } from "preact/hooks";
import { Logo } from "../ui/components.tsx";

/** `/login`: GitHub when it is configured, otherwise how to use the one-time link. */
export function LoginPage() {
  const [github, setGithub] = useState<boolean | null>(null);
  useEffect(() => {
    document.title = "Sign in · Tandem";
    fetch("/auth/providers")
      .then((r) => r.json() as Promise<{ github?: boolean }>)
      .then((p) => setGithub(Boolean(p.github)))
      .catch(() => setGithub(false));
  }, []);
  const next = new URLSearchParams(location.search).get("next") ?? "/";
  return (
    <main class="login">
      <div class="card login-card">
        <div class="login-brand">
          <Logo size={36} />
          <h1>Sign in to Tandem</h1>
        </div>
        <p class="muted">Review and steer the coding agent's sessions.</p>
        {github ? (
          <a
            class="button login-github"
            href={`/auth/github?next=${encodeURIComponent(next)}`}
            data-testid="github-login"
          >
            Sign in with GitHub
          </a>
        ) : null}
        {github === null ? null : (
          <p class="login-help">
            {github
              ? "Or open a one-time login link: the one Tandem printed when it started, or the one an admin sent you."
              : "Open the one-time login link Tandem printed when it started (or the one an admin sent you) to sign in."}
          </p>
        )}
      </div>
    </main>
  );
}
