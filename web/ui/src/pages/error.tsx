import { useEffect } from "preact/hooks";
import { Logo } from "../ui/components.tsx";

export interface PageError {
  title: string;
  message: string;
  testid: string;
}

/** An error the server answered with a page (a session not found, a used login link). */
export function ErrorPage({ error }: { error: PageError }) {
  useEffect(() => {
    document.title = `${error.title} · Tandem`;
  }, []);
  return (
    <main class="login">
      <div class="card login-card" role="alert">
        <div class="login-brand">
          <Logo size={36} />
          <h1>{error.title}</h1>
        </div>
        <p data-testid={error.testid}>{error.message}</p>
        <a class="button" href="/">
          Go to your sessions
        </a>
      </div>
    </main>
  );
}

/** The error the server put in the page, if it answered with one. */
export function pageError(): PageError | null {
  const data = document.getElementById("tandem-error")?.textContent;
  if (!data) return null;
  try {
    return JSON.parse(data) as PageError;
  } catch {
    return null;
  }
}
