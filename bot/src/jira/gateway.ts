import {
  type Config,
  carriesLink,
  isJson,
  isRecord,
  parseJson,
  upstreamUrl,
  type IntegrationProvider,
} from "@tandem/core";

/** Creating (POST) and editing (PUT) an issue comment, REST v2 (wiki markup) or v3 (ADF). */
const COMMENT_WRITES = [
  { method: "POST", path: /\/rest\/api\/(2|3|latest)\/issue\/[^/]+\/comment$/ },
  { method: "PUT", path: /\/rest\/api\/(2|3|latest)\/issue\/[^/]+\/comment\/\d+$/ },
];

/** Jira's REST API on the host of JIRA_BASE_URL, as JIRA_EMAIL with JIRA_API_TOKEN. Null unless all three are set. */
export function jiraIntegration(config: Config): IntegrationProvider | null {
  const { JIRA_BASE_URL: base, JIRA_EMAIL: email, JIRA_API_TOKEN: token } = config;
  if (!base || !email || !token) return null;
  const basic = `Basic ${Buffer.from(`${email}:${token}`).toString("base64")}`;
  return {
    name: "jira",
    title: "Jira",
    hosts: [new URL(base).hostname.toLowerCase()],
    credential: async () => ({ authorization: basic }),
    route({ method, url }, link) {
      const write = COMMENT_WRITES.some((w) => w.method === method && w.path.test(url.pathname));
      return {
        // The agent asks the site's own host: its path (a Jira Server context path too) goes as it is.
        upstream: upstreamUrl(new URL(base).origin, url.pathname, url.search),
        rewrite: write
          ? (body, contentType) => (isJson(contentType) ? linkComment(body, link) : undefined)
          : undefined,
      };
    },
  };
}

/** The comment's body with a "View session" paragraph (ADF) or link (wiki markup) at the end. */
function linkComment(raw: Buffer, link: string): Buffer | undefined {
  const payload = parseJson(raw);
  if (!isRecord(payload) || carriesLink(payload.body, link)) return undefined;
  const { body } = payload;
  if (typeof body === "string")
    return Buffer.from(JSON.stringify({ ...payload, body: `${body}\n\n[View session|${link}]` }));
  if (!isRecord(body) || !Array.isArray(body.content)) return undefined;
  const paragraph = {
    type: "paragraph",
    content: [
      { type: "text", text: "View session", marks: [{ type: "link", attrs: { href: link } }] },
    ],
  };
  return Buffer.from(
    JSON.stringify({ ...payload, body: { ...body, content: [...body.content, paragraph] } }),
  );
}
