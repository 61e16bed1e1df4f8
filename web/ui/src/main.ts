import "@xterm/xterm/css/xterm.css";
import "diff2html/bundles/css/diff2html.min.css";
import "./style.css";
import { h } from "./api.ts";
import { renderSessions } from "./sessions.ts";
import { renderWorkbench } from "./workbench.ts";

const app = document.getElementById("app")!;
const path = location.pathname;
const session = path.match(/^\/sessions\/([0-9a-f-]{36})\/?$/);

if (session) void renderWorkbench(app, session[1]!);
else if (path === "/login") {
  app.append(h("main.narrow", {}, h("h1", {}, "Tandem"),
    h("p", {}, "Open the one-time login link Tandem printed when it started (or the one an admin sent you) to sign in.")));
} else void renderSessions(app);
