import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError } from "../api.ts";
import { applyTheme, nextTheme, storedTheme, type Theme } from "./theme.ts";

export interface Org {
  id: string;
  name: string;
  role: string;
}

/** Tandem's mark: two offset strokes, one for the person and one for the agent. */
export function Logo({ size = 20 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="8" fill="var(--accent)" />
      <path
        d="M9 11h14M16 11v12"
        stroke="var(--accent-text)"
        stroke-width="3.2"
        stroke-linecap="round"
      />
      <circle cx="23" cy="22" r="2.4" fill="var(--accent-text)" />
    </svg>
  );
}

const NAV = [
  { href: "/", label: "Sessions", testid: "sessions-link" },
  { href: "/repositories", label: "Repositories", testid: "repositories-link" },
  { href: "/profiles", label: "Profiles", testid: "profiles-link" },
];

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const label = { system: "Theme: system", light: "Theme: light", dark: "Theme: dark" }[theme];
  return (
    <button
      type="button"
      class="ghost theme"
      data-testid="theme-toggle"
      aria-label={`${label} (change)`}
      title={label}
      onClick={() => {
        const t = nextTheme(theme);
        applyTheme(t);
        setTheme(t);
      }}
    >
      {theme === "dark" ? "☾" : theme === "light" ? "☀" : "◐"}
    </button>
  );
}

/** The bar on every page but the session's: where you are, where you can go, the theme. */
export function AppBar({ path, admin }: { path: string; admin: boolean }) {
  const current = (href: string) =>
    href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
  const links = admin
    ? [...NAV, { href: "/settings", label: "Settings", testid: "settings-link" }]
    : NAV;
  return (
    <header class="appbar">
      <a class="brand" href="/" aria-label="Tandem home">
        <Logo />
        <span>Tandem</span>
      </a>
      <nav aria-label="Main">
        {links.map((l) => (
          <a
            key={l.href}
            href={l.href}
            data-testid={l.testid}
            aria-current={current(l.href) ? "page" : undefined}
          >
            {l.label}
          </a>
        ))}
      </nav>
      <ThemeToggle />
    </header>
  );
}

export function Page({
  title,
  actions,
  children,
  wide,
}: {
  title: ComponentChildren;
  actions?: ComponentChildren;
  children: ComponentChildren;
  wide?: boolean;
}) {
  return (
    <main class={wide ? "page wide" : "page"}>
      <div class="page-head">
        <h1>{title}</h1>
        {actions ? <div class="page-actions">{actions}</div> : null}
      </div>
      {children}
    </main>
  );
}

export function Badge({
  tone,
  status,
  children,
  testid,
}: {
  tone?: "success" | "danger" | "warning" | "accent";
  status?: string;
  children: ComponentChildren;
  testid?: string;
}) {
  return (
    <span class="badge" data-tone={tone} data-status={status} data-testid={testid}>
      {children}
    </span>
  );
}

export function Empty({
  title,
  children,
  testid,
}: {
  title: string;
  children?: ComponentChildren;
  testid?: string;
}) {
  return (
    <div class="empty" data-testid={testid}>
      <strong>{title}</strong>
      {children}
    </div>
  );
}

export const Loading = ({ label = "Loading…" }: { label?: string }) => (
  <p class="loading" role="status">
    {label}
  </p>
);

export const ErrorBox = ({ error, testid }: { error: string | null; testid?: string }) =>
  error ? (
    <p class="error-box" role="alert" data-testid={testid}>
      {error}
    </p>
  ) : null;

/** A labelled field: the label names the control for screen readers, the hint says what to type. */
export function Field({
  label,
  hint,
  children,
}: {
  label: string;
  hint?: ComponentChildren;
  children: ComponentChildren;
}) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
      {hint ? <small class="hint">{hint}</small> : null}
    </label>
  );
}

/** GET a JSON resource; `reload()` fetches it again. A 401 sends the browser to the login page. */
export function useApi<T>(url: string | null) {
  const [state, setState] = useState<{
    data: T | null;
    error: ApiError | Error | null;
    loading: boolean;
  }>({
    data: null,
    error: null,
    loading: url !== null,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (url === null) return;
    let live = true;
    api<T>("GET", url)
      .then((data) => live && setState({ data, error: null, loading: false }))
      .catch((error: Error) => {
        if (error instanceof ApiError && error.status === 401) location.assign(loginUrl());
        else if (live) setState({ data: null, error, loading: false });
      });
    return () => {
      live = false;
    };
  }, [url, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export const loginUrl = () =>
  `/login?next=${encodeURIComponent(location.pathname + location.search)}`;

/** Mounts one of the pages still written with `h()` inside the Preact shell. */
export function Legacy({ render }: { render: (el: HTMLElement) => unknown }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (ref.current) void render(ref.current);
  }, []);
  return <div ref={ref} />;
}

/** "3 min ago", "2 h ago", then the date; the full time is in the title. */
export function Ago({ iso }: { iso: string }) {
  const [, setNow] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setNow((n) => n + 1), 30_000);
    return () => clearInterval(t);
  }, []);
  const d = new Date(iso);
  return (
    <time dateTime={iso} title={d.toLocaleString()}>
      {relativeTime(d, new Date())}
    </time>
  );
}

function relativeTime(d: Date, now: Date): string {
  const s = Math.round((now.getTime() - d.getTime()) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  if (s < 7 * 86_400) return `${Math.round(s / 86_400)} d ago`;
  return d.toLocaleDateString();
}
