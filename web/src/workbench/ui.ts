import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError } from "@tandem/core";
import { requireUser } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { ensureCsrfCookie } from "./csrf.ts";
import { requireSession } from "./sandbox-access.ts";

/** Where `npm run build:ui` (vite) writes the browser workbench. */
export const UI_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../ui/dist");

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
  ".map": "application/json", ".woff2": "font/woff2", ".png": "image/png",
};

const FALLBACK = `<!doctype html><title>Tandem</title><h1>Tandem</h1><p>API: <a href="/api/openapi.json">/api/openapi.json</a></p>`
  + `<p>The workbench is not built; run <code>npm run build:ui</code>.</p>`;

/** Only same-origin relative paths may be a redirect target after login. */
export const safeNext = (next: unknown): string | undefined =>
  typeof next === "string" && /^\/(?![/\\])/.test(next) && !/[\r\n]/.test(next) ? next : undefined;

export async function uiRoutes(app: FastifyInstance, deps: WebDeps) {
  const indexFile = path.join(UI_DIST, "index.html");
  const index = () => (existsSync(indexFile) ? readFileSync(indexFile, "utf8") : FALLBACK);
  const page = (req: FastifyRequest, reply: FastifyReply) => {
    ensureCsrfCookie(deps, req, reply);
    return reply.type("text/html; charset=utf-8").header("cache-control", "no-store").send(index());
  };

  app.get("/", async (req, reply) => page(req, reply));
  app.get("/login", async (req, reply) => page(req, reply));
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
    await requireSession(deps, req);
    return page(req, reply);
  });
  app.get("/assets/*", async (req, reply) => {
    const rel = (req.params as { "*": string })["*"];
    const file = path.resolve(UI_DIST, "assets", rel);
    if (!file.startsWith(path.join(UI_DIST, "assets") + path.sep)) return reply.code(404).send();
    const body = await readFile(file).catch(() => null);
    if (!body) return reply.code(404).send({ error: { code: "not_found", message: "no such asset" } });
    return reply.type(TYPES[path.extname(file)] ?? "application/octet-stream")
      .header("cache-control", "public, max-age=31536000, immutable").send(body);
  });
}
