export { buildApp } from "./app.ts";
export type { WebDeps } from "./deps.ts";
