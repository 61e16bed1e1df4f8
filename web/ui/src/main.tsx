import "@xterm/xterm/css/xterm.css";
import "diff2html/bundles/css/diff2html.min.css";
import "./ui/tokens.css";
import "./ui/base.css";
import "./style.css";
import "./ui/pages.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "./api.ts";
import { ErrorPage, pageError } from "./pages/error.tsx";
import { LoginPage } from "./pages/login.tsx";
import { RepositoriesPage } from "./pages/repositories.tsx";
import { SessionsPage } from "./pages/sessions.tsx";
import { renderProfile } from "./profile.ts";
import { renderProfiles } from "./profiles.ts";
import { renderSettings } from "./settings.ts";
import { AppBar, Legacy, Loading, loginUrl, type Org } from "./ui/components.tsx";
import { applyTheme, storedTheme } from "./ui/theme.ts";
import { renderWorkbench } from "./workbench.ts";

applyTheme(storedTheme());
const app = document.getElementById("app")!;
const path = location.pathname.replace(/(.)\/$/, "$1");
const session = path.match(/^\/sessions\/([0-9a-f-]{36})$/);
const profile = path.match(/^\/profiles\/([^/]+)$/);

/** Every page but the session's: the app bar over the page, once the caller's orgs are known. */
function Shell() {
  const [orgs, setOrgs] = useState<Org[] | null>(null);
  useEffect(() => {
    api<{ organizations: Org[] }>("GET", "/api/me")
      .then((me) => setOrgs(me.organizations))
      .catch((err: Error) => {
        if (err instanceof ApiError && err.status === 401) location.assign(loginUrl());
        else setOrgs([]);
      });
  }, []);
  const admin = Boolean(orgs?.[0] && orgs[0].role !== "member");
  return (
    <>
      <AppBar path={path} admin={admin} />
      {orgs === null ? (
        <main class="page">
          <Loading />
        </main>
      ) : path === "/repositories" ? (
        <RepositoriesPage orgs={orgs} />
      ) : path === "/settings" ? (
        <Legacy render={renderSettings} />
      ) : path === "/profiles" ? (
        <Legacy render={renderProfiles} />
      ) : profile ? (
        <Legacy render={(el) => renderProfile(el, decodeURIComponent(profile[1]!))} />
      ) : (
        <SessionsPage orgs={orgs} />
      )}
    </>
  );
}

const error = pageError();
if (error) render(<ErrorPage error={error} />, app);
else if (session) void renderWorkbench(app, session[1]!);
else if (path === "/login") render(<LoginPage />, app);
else render(<Shell />, app);
