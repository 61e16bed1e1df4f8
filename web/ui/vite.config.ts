import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** The browser workbench; `npm run build:ui` writes it to web/ui/dist, which Fastify serves. */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  // Preact through the automatic JSX runtime; Vite's own transform, no Babel preset.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
  },
});
