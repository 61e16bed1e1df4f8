import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

/** What the sandbox calls; everything after it is appended to MODEL_UPSTREAM_URL (which ends in /v1). */
export const MODEL_PROXY_PREFIX = "/proxy/model/v1";

/**
 * The endpoints an agent needs, relative to the prefix; nothing else is sent upstream with the
 * operator's key (files, batches, fine-tuning, deletes...). `GET /models/<id>` is there because
 * the OpenAI and Anthropic SDKs look a model up by id; `count_tokens` because Claude Code sizes
 * its context with it (it generates nothing).
 */
const ALLOWED: Array<{ method: string; path: RegExp; label: string }> = [
  { method: "POST", path: /^\/responses$/, label: "POST /responses" },
  { method: "POST", path: /^\/chat\/completions$/, label: "POST /chat/completions" },
  { method: "POST", path: /^\/messages$/, label: "POST /messages" },
  { method: "POST", path: /^\/messages\/count_tokens$/, label: "POST /messages/count_tokens" },
  { method: "GET", path: /^\/models$/, label: "GET /models" },
  { method: "GET", path: /^\/models\/[^/]+$/, label: "GET /models/<id>" },
];

export const ALLOWED_ENDPOINTS = ALLOWED.map(
  (a) => `${a.method} ${MODEL_PROXY_PREFIX}${a.label.slice(a.label.indexOf(" ") + 1)}`,
);

/** Whether the agent may call this endpoint; `path` is what follows the prefix, without the query. */
export function isAllowedEndpoint(method: string, path: string): boolean {
  return ALLOWED.some((a) => a.method === method && a.path.test(path));
}

/**
 * The upstream path for a proxied request URL: MODEL_UPSTREAM_URL's path + what follows the
 * prefix, query string kept byte for byte. Null when the URL would leave the prefix (dot
 * segments, encoded slashes), which an upstream or a proxy in front of it might resolve.
 */
export function upstreamPath(
  upstreamBase: URL,
  requestUrl: string,
): { path: string; endpoint: string } | null {
  if (!requestUrl.startsWith(MODEL_PROXY_PREFIX)) return null;
  const rest = requestUrl.slice(MODEL_PROXY_PREFIX.length);
  const q = rest.indexOf("?");
  const endpoint = q >= 0 ? rest.slice(0, q) : rest;
  if (endpoint !== "" && !endpoint.startsWith("/")) return null;
  for (const segment of endpoint.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return null;
    }
    if (decoded === "." || decoded === ".." || /[/\\]/.test(decoded)) return null;
  }
  return { path: upstreamBase.pathname.replace(/\/$/, "") + rest, endpoint };
}

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
/**
 * The sandbox's token, cookies and framing stay here, and so do headers that pick another
 * account, organization or project of the operator's key (Anthropic has no such header today;
 * of its `anthropic-*` headers only the two agents need pass, so a future one is dropped).
 */
const NOT_FORWARDED = new Set([
  ...HOP_BY_HOP,
  "authorization",
  "host",
  "cookie",
  "content-length",
  "accept-encoding",
  "openai-organization",
  "openai-project",
  "chatgpt-account-id",
]);
const ANTHROPIC_KEPT = new Set(["anthropic-version", "anthropic-beta"]);
/** Where a client may put its (placeholder) key; the real key replaces it there. */
const KEY_HEADERS = ["x-api-key", "api-key"];
export const NOT_RETURNED = new Set(HOP_BY_HOP);

/**
 * What the upstream receives: the client's headers minus those above, `Authorization: Bearer`
 * with the real key, and the real key in `x-api-key` / `api-key` too when the client used one
 * (Anthropic-style and Azure-style upstreams read those instead).
 */
export function upstreamHeaders(
  incoming: IncomingHttpHeaders,
  apiKey: string | undefined,
  body: Buffer | undefined,
): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || NOT_FORWARDED.has(name) || KEY_HEADERS.includes(name)) continue;
    if (name.startsWith("anthropic-") && !ANTHROPIC_KEPT.has(name)) continue;
    headers[name] = value;
  }
  // Identity, so the usage events can be read as they pass.
  headers["accept-encoding"] = "identity";
  if (apiKey) {
    headers.authorization = `Bearer ${apiKey}`;
    for (const name of KEY_HEADERS) if (incoming[name] !== undefined) headers[name] = apiKey;
  }
  if (body) headers["content-length"] = body.length;
  return headers;
}
