import "@xterm/xterm/css/xterm.css";
import "diff2html/bundles/css/diff2html.min.css";
import "./ui/tokens.css";
import "./ui/base.css";
import "./style.css";
import { h } from "./api.ts";
import { renderProfile } from "./profile.ts";
import { renderProfiles } from "./profiles.ts";
import { renderSessions } from "./sessions.ts";
import { renderSettings } from "./settings.ts";
import { renderWorkbench } from "./workbench.ts";

const app = document.getElementById("app")!;
const path = location.pathname;
const session = path.match(/^\/sessions\/([0-9a-f-]{36})\/?$/);
const profile = path.match(/^\/profiles\/([^/]+)\/?$/);

if (session) void renderWorkbench(app, session[1]!);
else if (path === "/login") void renderLogin(app);
else if (path === "/settings") void renderSettings(app);
else if (path === "/profiles" || path === "/profiles/") void renderProfiles(app);
else if (profile) void renderProfile(app, decodeURIComponent(profile[1]!));
else void renderSessions(app);

async function renderLogin(app: HTMLElement) {
  const main = h("main.narrow", {}, h("h1", {}, "Tandem"));
  app.append(main);
  const providers = await fetch("/auth/providers")
    .then((r) => r.json() as Promise<{ github?: boolean }>)
    .catch(() => ({ github: false }));
  const next = new URLSearchParams(location.search).get("next") ?? "/";
  if (providers.github) {
    main.append(
      h(
        "p",
        {},
        h(
          "a.button",
          { href: `/auth/github?next=${encodeURIComponent(next)}`, "data-testid": "github-login" },
          "Sign in with GitHub",
        ),
      ),
    );
  }
  main.append(
    h(
      "p",
      {},
      providers.github
        ? "Or open a one-time login link: the one Tandem printed when it started, or the one an admin sent you."
        : "Open the one-time login link Tandem printed when it started (or the one an admin sent you) to sign in.",
    ),
  );
}
