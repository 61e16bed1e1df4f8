import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, listOrganizationsForUser } from "@tandem/core";
import { requireUser } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { ensureCsrfCookie } from "./csrf.ts";
import { requireSession } from "./sandbox-access.ts";

/** Where `npm run build:ui` (vite) writes the browser workbench. */
const UI_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../ui/dist");

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".map": "application/json",
  ".woff2": "font/woff2",
  ".png": "image/png",
};

const FALLBACK =
  `<!doctype html><title>Tandem</title><h1>Tandem</h1><p>API: <a href="/api/openapi.json">/api/openapi.json</a></p>` +
  `<p>The workbench is not built; run <code>npm run build:ui</code>.</p>`;

/** Only same-origin relative paths may be a redirect target after login. */
export const safeNext = (next: unknown): string | undefined =>
  typeof next === "string" && /^\/(?![/\\])/.test(next) && !/[\r\n]/.test(next) ? next : undefined;

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * An error as a page of the workbench: the built UI shows it in its own frame (styled, both
 * schemes), read from a JSON data block; without a built UI, plain HTML says the same.
 */
export function sendErrorPage(
  reply: FastifyReply,
  status: number,
  error: { title: string; message: string; testid: string },
) {
  const indexFile = path.join(UI_DIST, "index.html");
  const data = JSON.stringify(error).replace(/</g, "\\u003c");
  const html = existsSync(indexFile)
    ? readFileSync(indexFile, "utf8").replace(
        "</head>",
        `<script type="application/json" id="tandem-error">${data}</script></head>`,
      )
    : `<!doctype html><title>${escapeHtml(error.title)} · Tandem</title><h1>${escapeHtml(error.title)}</h1>` +
      `<p data-testid="${escapeHtml(error.testid)}">${escapeHtml(error.message)}</p><p><a href="/">Tandem</a></p>`;
  return reply
    .code(status)
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .send(html);
}

/** A signed-in person who may not see the session: someone of no org yet is told what to do. */
async function notFoundPage(deps: WebDeps, req: FastifyRequest, reply: FastifyReply) {
  const orgs = await listOrganizationsForUser(deps.database.db, await requireUser(deps, req));
  const message = orgs.length
    ? "This session does not exist, or it belongs to an organization you are not a member of."
    : "You are signed in, but you are not a member of any organization yet: ask an admin to add you.";
  return sendErrorPage(reply, 404, { title: "Not found", message, testid: "not-found" });
}

export async function uiRoutes(app: FastifyInstance, deps: WebDeps) {
  const indexFile = path.join(UI_DIST, "index.html");
  const index = () => (existsSync(indexFile) ? readFileSync(indexFile, "utf8") : FALLBACK);
  const page = (req: FastifyRequest, reply: FastifyReply) => {
    ensureCsrfCookie(deps, req, reply);
    return reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(index());
  };

  app.get("/", async (req, reply) => page(req, reply));
  app.get("/login", async (req, reply) => page(req, reply));
  app.get("/settings", async (req, reply) => page(req, reply));
  app.get("/repositories", async (req, reply) => page(req, reply));
  app.get("/profiles", async (req, reply) => page(req, reply));
  app.get("/profiles/:name", async (req, reply) => page(req, reply));
  app.get("/sessions/:id", async (req, reply) => {
    try {
      await requireUser(deps, req);
    } catch (err) {
      if (err instanceof AppError && err.status === 401) {
        const next = req.url.split("?")[0]!;
        return reply.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
      }
      throw err;
    }
    try {
      await requireSession(deps, req);
    } catch (err) {
      if (err instanceof AppError && err.status === 404) return notFoundPage(deps, req, reply);
      throw err;
    }
    return page(req, reply);
  });
  app.get("/assets/*", async (req, reply) => {
    const rel = (req.params as { "*": string })["*"];
    const file = path.resolve(UI_DIST, "assets", rel);
    if (!file.startsWith(path.join(UI_DIST, "assets") + path.sep)) return reply.code(404).send();
    const body = await readFile(file).catch(() => null);
    if (!body)
      return reply.code(404).send({ error: { code: "not_found", message: "no such asset" } });
    return reply
      .type(TYPES[path.extname(file)] ?? "application/octet-stream")
      .header("cache-control", "public, max-age=31536000, immutable")
      .send(body);
  });
}
