import { githubApiToken } from "./credentials.ts";
import {
  type Clock,
  type Config,
  type Db,
  type Logger,
  carriesLink,
  isJson,
  isRecord,
  parseJson,
  upstreamUrl,
  withMarkdownLink,
  type BodyRewrite,
  type IntegrationProvider,
  rewriteGraphqlBody,
  type AddLink,
  type MutationRule,
} from "@tandem/core";

/** Writes whose `body` is what people read: issues, comments, pull requests, reviews. `create`: a missing body becomes the link. */
const REST_WRITES: Array<{ method: string; path: RegExp; create?: boolean }> = [
  { method: "POST", path: /^\/repos\/[^/]+\/[^/]+\/issues$/, create: true },
  { method: "PATCH", path: /^\/repos\/[^/]+\/[^/]+\/issues\/\d+$/ },
  { method: "POST", path: /^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/, create: true },
  { method: "PATCH", path: /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+$/ },
  { method: "POST", path: /^\/repos\/[^/]+\/[^/]+\/pulls$/, create: true },
  { method: "PATCH", path: /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+$/ },
  { method: "POST", path: /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+\/comments$/, create: true },
  {
    method: "POST",
    path: /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+\/comments\/\d+\/replies$/,
    create: true,
  },
  { method: "PATCH", path: /^\/repos\/[^/]+\/[^/]+\/pulls\/comments\/\d+$/ },
  { method: "POST", path: /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+\/reviews$/, create: true },
  { method: "PUT", path: /^\/repos\/[^/]+\/[^/]+\/pulls\/\d+\/reviews\/\d+$/ },
];

const MUTATIONS: MutationRule[] = [
  { field: "addComment", create: true },
  { field: "createPullRequest", create: true },
  { field: "updatePullRequest" },
];

/** Git's smart HTTP (clone, fetch, push) on github.com. */
const isGit = (path: string, search: string, userAgent: string | undefined) =>
  /\/(git-upload-pack|git-receive-pack)$/.test(path) ||
  (/\/info\/refs$/.test(path) && /service=git-/.test(search)) ||
  /^git\//.test(userAgent ?? "");

const GIT_REFUSED =
  "git over https to github.com does not go through this gateway: this sandbox's git remote is Tandem's, " +
  "which pushes your session's branch (use `git push` on the remote the checkout has)\n";

/**
 * GitHub for the agent (api.github.com REST and GraphQL, uploads.github.com, github.com), with
 * an installation token narrowed to the session's repositories. Null when the App is not configured.
 */
export function githubIntegration(deps: {
  config: Config;
  db: Db;
  logger: Logger;
  clock: Clock;
}): IntegrationProvider | null {
  const token = githubApiToken(deps);
  if (!token) return null;
  const api = deps.config.GITHUB_API_URL.replace(/\/$/, "");
  // GitHub Enterprise Server keeps GraphQL and uploads beside /api/v3.
  const enterprise = /\/api\/v3$/.test(api);
  const graphql = enterprise ? api.replace(/\/v3$/, "/graphql") : `${api}/graphql`;
  const uploads =
    api === "https://api.github.com"
      ? "https://uploads.github.com"
      : enterprise
        ? api.replace(/\/v3$/, "/uploads")
        : api;
  const web = deps.config.GITHUB_URL;
  return {
    name: "github",
    title: "GitHub",
    hosts: ["api.github.com", "uploads.github.com", "github.com"],
    async credential(grant) {
      const minted = await token(grant);
      return minted ? { authorization: `token ${minted}` } : null;
    },
    route({ method, host, url, headers }, link) {
      const addLink: AddLink = (body) =>
        carriesLink(body, link) ? undefined : withMarkdownLink(body, link);
      if (host === "github.com") {
        if (isGit(url.pathname, url.search, headers["user-agent"]))
          return { refuse: 403, text: GIT_REFUSED };
        return { upstream: upstreamUrl(web, url.pathname, url.search) };
      }
      if (host === "uploads.github.com")
        return { upstream: upstreamUrl(uploads, url.pathname, url.search) };
      if (url.pathname === "/graphql") {
        return {
          upstream: upstreamUrl(graphql, "", url.search),
          rewrite: jsonOnly((body) => rewriteGraphqlBody(body, MUTATIONS, addLink)),
        };
      }
      const write = REST_WRITES.find((w) => w.method === method && w.path.test(url.pathname));
      return {
        upstream: upstreamUrl(api, url.pathname, url.search),
        rewrite: write && jsonOnly(restBody(addLink, write.create)),
      };
    },
  };
}

const jsonOnly =
  (rewrite: (body: Buffer) => Buffer | undefined): BodyRewrite =>
  (body, contentType) =>
    isJson(contentType) || !contentType ? rewrite(body) : undefined;

/** The REST payload's `body` with the link; an edit that leaves the body alone stays so. */
const restBody = (addLink: AddLink, create?: boolean) => (raw: Buffer) => {
  const payload = parseJson(raw);
  if (!isRecord(payload)) return undefined;
  if (typeof payload.body !== "string" && !(create && payload.body == null)) return undefined;
  const linked = addLink(payload.body as string | null | undefined);
  return linked === undefined
    ? undefined
    : Buffer.from(JSON.stringify({ ...payload, body: linked }));
};
