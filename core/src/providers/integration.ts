import type http from "node:http";
import type { Integration } from "../profiles/spec.ts";

/** A session's grant: integrations get credentials for sessions only. */
interface SessionGrant {
  orgId: string;
  sessionId: string;
  repositoryIds: string[];
}

interface IntegrationRequest {
  method: string;
  /** The host the agent asked for (lower case, no port). */
  host: string;
  /** Path and query as the agent sent them. */
  url: URL;
  headers: http.IncomingHttpHeaders;
}

/** Rewrites a buffered request body; undefined leaves it as it came. */
export type BodyRewrite = (body: Buffer, contentType: string) => Buffer | undefined;

type Route = { upstream: URL; rewrite?: BodyRewrite } | { refuse: number; text: string };

/**
 * One integration as the gateway serves it: the hosts the agent's clients ask for, the
 * credential headers for a session, and where each request goes (with the rewrite that adds the
 * View session link to what the agent writes).
 */
export interface IntegrationProvider {
  name: Integration;
  /** "GitHub", for messages the agent reads. */
  title: string;
  hosts: readonly string[];
  /** Headers carrying the real credential; null when Tandem has none for this session. */
  credential(grant: SessionGrant): Promise<Record<string, string> | null>;
  /** `link` is the session's View session URL. */
  route(req: IntegrationRequest, link: string): Route;
}

/** `base` (which may carry a path, e.g. GitHub Enterprise's /api/v3) with `path` and `search` after it. */
export function upstreamUrl(base: string, path: string, search = ""): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/$/, "")}${path}`;
  url.search = search;
  return url;
}

/** Whether `value` (a string or any JSON value) already carries the session link. */
export const carriesLink = (value: unknown, link: string) =>
  (typeof value === "string" ? value : JSON.stringify(value ?? null)).includes(link);

/** A Markdown body with the link appended (GitHub, Linear), or just the link for an empty one. */
export const withMarkdownLink = (body: string | null | undefined, link: string) =>
  `${body ? `${body}\n\n` : ""}[View session](${link})`;

/** Parses a JSON body; undefined for one that is not JSON (the upstream answers it). */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

export const isJson = (contentType: string) => /^application\/(.+\+)?json\b/i.test(contentType);
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
