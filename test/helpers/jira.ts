import { createHmac, randomUUID } from "node:crypto";

// Webhook bodies as Jira Cloud admin webhooks (System > WebHooks) send them, and the ADF bits the
// fake Jira shares with them. Shapes follow captured deliveries: a comment_created from a Cloud
// site (2021) and a jira:issue_created (2025) kept in public repositories, Atlassian's changelog
// examples, and jira.js's documented webhook headers. Admin webhooks use the REST v2
// representation: comment bodies and descriptions are wiki-markup strings, users carry
// accountId/accountType, and `issue.self` is `<site>/rest/api/2/<id>` (no `issue/`, as captured).

export const JIRA_WEBHOOK_SECRET = "test-jira-webhook-secret";
export const JIRA_EMAIL = "tandem-bot@example.test";
export const JIRA_API_TOKEN = "test-jira-api-token-not-real";
/** The Tandem agent's account (the owner of JIRA_EMAIL's API token). */
export const AGENT_ACCOUNT_ID = "712020:00000000-0000-4000-8000-00000000a9e7";
/** The person who mentions or assigns unless a builder is told otherwise. */
export const HUMAN_ACCOUNT_ID = "712020:00000000-0000-4000-8000-0000000a11ce";
/** An app account (accountType "app"), as an automation rule acts. */
export const APP_ACCOUNT_ID = "557058:00000000-0000-4000-8000-0000000000a9";

interface AdfNode {
  type: string;
  attrs?: Record<string, unknown>;
  content?: AdfNode[];
  text?: string;
  marks?: Array<{ type: string; attrs?: Record<string, unknown> }>;
}
export interface AdfDoc {
  type: "doc";
  version: 1;
  content: AdfNode[];
}

export type AccountType = "atlassian" | "app" | "customer";
export interface JiraAccount {
  accountId: string;
  displayName: string;
  accountType: AccountType;
  emailAddress?: string;
}

export const KNOWN_ACCOUNTS: Record<string, JiraAccount> = {
  [AGENT_ACCOUNT_ID]: {
    accountId: AGENT_ACCOUNT_ID,
    displayName: "Tandem",
    accountType: "atlassian",
    emailAddress: JIRA_EMAIL,
  },
  [HUMAN_ACCOUNT_ID]: {
    accountId: HUMAN_ACCOUNT_ID,
    displayName: "Alice Example",
    accountType: "atlassian",
    emailAddress: "alice@example.test",
  },
  [APP_ACCOUNT_ID]: {
    accountId: APP_ACCOUNT_ID,
    displayName: "Automation for Jira",
    accountType: "app",
  },
};

const accountOf = (accountId: string, accountType?: AccountType): JiraAccount => {
  const known = KNOWN_ACCOUNTS[accountId] ?? {
    accountId,
    displayName: `User ${accountId.slice(-4)}`,
    accountType: "atlassian" as const,
  };
  return accountType ? { ...known, accountType } : known;
};

/** A user as REST v2/v3 and webhooks embed one (Cloud hides emailAddress unless it is public). */
export function jiraUser(site: string, account: JiraAccount) {
  const avatar = `https://avatar.example.test/${encodeURIComponent(account.accountId)}`;
  return {
    self: `${site}/rest/api/2/user?accountId=${encodeURIComponent(account.accountId)}`,
    accountId: account.accountId,
    avatarUrls: {
      "48x48": `${avatar}/48`,
      "24x24": `${avatar}/24`,
      "16x16": `${avatar}/16`,
      "32x32": `${avatar}/32`,
    },
    displayName: account.displayName,
    active: true,
    timeZone: "Etc/UTC",
    accountType: account.accountType,
  };
}

/** The default workflow: To Do → In Progress → Done, with Jira's status category per status. */
export const WORKFLOW = [
  {
    transitionId: "11",
    status: { id: "10000", name: "To Do" },
    category: { id: 2, key: "new", colorName: "blue-gray", name: "To Do" },
  },
  {
    transitionId: "21",
    status: { id: "3", name: "In Progress" },
    category: { id: 4, key: "indeterminate", colorName: "yellow", name: "In Progress" },
  },
  {
    transitionId: "31",
    status: { id: "10001", name: "Done" },
    category: { id: 3, key: "done", colorName: "green", name: "Done" },
  },
] as const;

/** A status as Jira renders it (`fields.status`, a transition's `to`). */
export function jiraStatus(site: string, name: string) {
  const step = WORKFLOW.find((s) => s.status.name === name);
  if (!step) throw new Error(`Jira helpers: no status ${name} in the default workflow`);
  return {
    self: `${site}/rest/api/2/status/${step.status.id}`,
    description: "",
    iconUrl: `${site}/`,
    name,
    id: step.status.id,
    statusCategory: {
      self: `${site}/rest/api/2/statuscategory/${step.category.id}`,
      ...step.category,
    },
  };
}

// ---- ADF ----

/** A plain-text document: one paragraph per non-empty line (ADF refuses empty text nodes). */
export function adfFromText(text: string): AdfDoc {
  return {
    type: "doc",
    version: 1,
    content: text
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => ({ type: "paragraph", content: [{ type: "text", text: line }] })),
  };
}

/** A mention node as Jira's editor writes it. */
const adfMention = (accountId: string, displayName?: string): AdfNode => ({
  type: "mention",
  attrs: {
    id: accountId,
    text: `@${displayName ?? accountOf(accountId).displayName}`,
    accessLevel: "",
  },
});

/** How wiki markup (what admin webhooks carry) mentions an account. */
export const wikiMention = (accountId: string) => `[~accountid:${accountId}]`;

const INLINE = new Set(["text", "mention", "emoji", "hardBreak", "inlineCard", "date", "status"]);

/** Flattens a document: each block (paragraph, heading, list item…) on its own line. */
function flatten(node: unknown, mention: (attrs: Record<string, any>) => string): string {
  if (typeof node === "string") return node;
  const lines: string[] = [];
  let line = "";
  const flush = () => {
    if (line !== "") lines.push(line);
    line = "";
  };
  const visit = (n: any) => {
    if (!n || typeof n !== "object") return;
    if (n.type === "text") line += typeof n.text === "string" ? n.text : "";
    else if (n.type === "mention") line += mention(n.attrs ?? {});
    else if (n.type === "hardBreak") flush();
    else if (n.type === "emoji") line += n.attrs?.text ?? n.attrs?.shortName ?? "";
    else if (n.type === "inlineCard") line += n.attrs?.url ?? "";
    else if (!INLINE.has(n.type)) {
      flush();
      for (const child of Array.isArray(n.content) ? n.content : []) visit(child);
      flush();
    }
  };
  visit(node);
  flush();
  return lines.join("\n");
}

/** Plain text of an ADF document (or a wiki string as is); a mention reads `@name` (or `@id`). */
export function textOf(doc: unknown): string {
  return flatten(doc, (attrs) => {
    const text = typeof attrs.text === "string" && attrs.text !== "" ? attrs.text : undefined;
    if (text) return text.startsWith("@") ? text : `@${text}`;
    return `@${attrs.id}`;
  });
}

/** The wiki markup REST v2 and admin webhooks give for an ADF document (text and mentions). */
export const wikiOf = (doc: unknown) =>
  flatten(doc, (attrs) => wikiMention(String(attrs.id))).replace(/\n/g, "\n\n");

/** Wiki text with `[~accountid:…]` mentions as the ADF a Connect/Forge delivery carries. */
function adfFromWiki(body: string): AdfDoc {
  const paragraph = (line: string): AdfNode => {
    const content: AdfNode[] = [];
    const mention = /\[~accountid:([^\]]+)\]/g;
    let at = 0;
    for (const m of line.matchAll(mention)) {
      if (m.index > at) content.push({ type: "text", text: line.slice(at, m.index) });
      content.push(adfMention(m[1]!));
      at = m.index + m[0].length;
    }
    if (at < line.length) content.push({ type: "text", text: line.slice(at) });
    return { type: "paragraph", content };
  };
  return {
    type: "doc",
    version: 1,
    content: body
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map(paragraph),
  };
}

// ---- webhook bodies ----

/** What the builders need of an issue (a FakeJira issue fits). */
export interface JiraIssueRef {
  id: string;
  key: string;
  fields: {
    summary: string;
    description?: AdfDoc | string | null;
    labels?: string[];
    status?: { name: string };
    project?: { id: string; key: string; name: string };
    assignee?: { accountId: string; displayName?: string; accountType?: string } | null;
    reporter?: { accountId: string } | null;
  };
}

/** One changelog item as Jira sends it (user fields add tmpFromAccountId/tmpToAccountId). */
export interface ChangeItem {
  field: string;
  fieldtype: string;
  fieldId: string;
  from: string | null;
  fromString: string | null;
  to: string | null;
  toString: string | null;
  tmpFromAccountId?: string | null;
  tmpToAccountId?: string | null;
}

/** A change of a plain field (summary, description…): Jira puts the values in the strings only. */
export const changeItem = (field: string, fromString: string | null, to: string | null) => ({
  field,
  fieldtype: "jira",
  fieldId: field,
  from: null,
  fromString,
  to: null,
  toString: to,
});

let sequence = 10_500;
const nextId = () => String(++sequence);
const jiraTime = (at: number) => new Date(at).toISOString().replace("Z", "+0000");

function projectOf(site: string, issue: JiraIssueRef) {
  const key = issue.fields.project?.key ?? issue.key.split("-")[0]!;
  const id = issue.fields.project?.id ?? "10000";
  return {
    self: `${site}/rest/api/2/project/${id}`,
    id,
    key,
    name: issue.fields.project?.name ?? key,
    projectTypeKey: "software",
    simplified: false,
    avatarUrls: {
      "48x48": `${site}/rest/api/2/universal_avatar/view/type/project/avatar/10400`,
      "24x24": `${site}/rest/api/2/universal_avatar/view/type/project/avatar/10400?size=small`,
      "16x16": `${site}/rest/api/2/universal_avatar/view/type/project/avatar/10400?size=xsmall`,
      "32x32": `${site}/rest/api/2/universal_avatar/view/type/project/avatar/10400?size=medium`,
    },
  };
}

const userOrNull = (site: string, accountId: string | null | undefined) =>
  accountId ? jiraUser(site, accountOf(accountId)) : null;

/**
 * The issue as webhooks embed it. comment_* events carry six fields (as captured); jira:issue_*
 * events carry all of them. `assignee` overrides the issue's (an assignment webhook shows the
 * new assignee).
 */
function issuePayload(
  site: string,
  issue: JiraIssueRef,
  opts: { full: boolean; assignee?: string | null; labels?: string[] },
) {
  const assigneeId =
    opts.assignee !== undefined ? opts.assignee : (issue.fields.assignee?.accountId ?? null);
  const fields: Record<string, unknown> = {
    summary: issue.fields.summary,
    issuetype: {
      self: `${site}/rest/api/2/issuetype/10002`,
      id: "10002",
      description: "A small, distinct piece of work.",
      iconUrl: `${site}/rest/api/2/universal_avatar/view/type/issuetype/avatar/10318?size=medium`,
      name: "Task",
      subtask: false,
      avatarId: 10318,
      hierarchyLevel: 0,
    },
    project: projectOf(site, issue),
    assignee: userOrNull(site, assigneeId),
    priority: {
      self: `${site}/rest/api/2/priority/3`,
      iconUrl: `${site}/images/icons/priorities/medium.svg`,
      name: "Medium",
      id: "3",
    },
    status: jiraStatus(site, issue.fields.status?.name ?? "To Do"),
  };
  if (opts.full) {
    const description = issue.fields.description;
    const reporter = userOrNull(site, issue.fields.reporter?.accountId ?? HUMAN_ACCOUNT_ID);
    Object.assign(fields, {
      description:
        description === undefined || description === null ? null : wikiOf(description) || null,
      labels: opts.labels ?? issue.fields.labels ?? [],
      creator: reporter,
      reporter,
      components: [],
      fixVersions: [],
      versions: [],
      issuelinks: [],
      subtasks: [],
      attachment: [],
      resolution: null,
      resolutiondate: null,
      duedate: null,
      environment: null,
      security: null,
      created: "2025-01-01T09:00:00.000+0000",
      updated: jiraTime(Date.now()),
      statuscategorychangedate: "2025-01-01T09:00:00.000+0000",
    });
  }
  return { id: issue.id, self: `${site}/rest/api/2/${issue.id}`, key: issue.key, fields };
}

/** A person (or app) wrote a comment: the body is wiki markup, or ADF with `adf: true`. */
export function commentCreated(opts: {
  site: string;
  issue: JiraIssueRef;
  body: string;
  author?: string;
  accountType?: AccountType;
  adf?: boolean;
  commentId?: string;
  at?: number;
}) {
  const at = opts.at ?? Date.now();
  const id = opts.commentId ?? nextId();
  const author = jiraUser(opts.site, accountOf(opts.author ?? HUMAN_ACCOUNT_ID, opts.accountType));
  return {
    timestamp: at,
    webhookEvent: "comment_created",
    comment: {
      self: `${opts.site}/rest/api/2/issue/${opts.issue.id}/comment/${id}`,
      id,
      author,
      body: opts.adf ? adfFromWiki(opts.body) : opts.body,
      updateAuthor: author,
      created: jiraTime(at),
      updated: jiraTime(at),
      jsdPublic: true,
    },
    issue: issuePayload(opts.site, opts.issue, { full: false }),
    matchedWebhookIds: [1],
  };
}

/** A field edit: `issue_assigned` when the changelog changes the assignee, else `issue_updated`. */
export function issueUpdated(opts: {
  site: string;
  issue: JiraIssueRef;
  items: ChangeItem[];
  user?: string;
  /** fields.assignee in the body (default: the issue's); the trap case sets the agent here. */
  assignee?: string | null;
  labels?: string[];
  at?: number;
}) {
  const at = opts.at ?? Date.now();
  return {
    timestamp: at,
    webhookEvent: "jira:issue_updated",
    issue_event_type_name: opts.items.some((i) => i.fieldId === "assignee")
      ? "issue_assigned"
      : "issue_updated",
    user: jiraUser(opts.site, accountOf(opts.user ?? HUMAN_ACCOUNT_ID)),
    issue: issuePayload(opts.site, opts.issue, {
      full: true,
      assignee: opts.assignee,
      labels: opts.labels,
    }),
    changelog: { id: nextId(), items: opts.items },
    matchedWebhookIds: [1],
  };
}

/** The issue was (re)assigned to `to` (null: unassigned); from defaults to its current assignee. */
export function assigned(opts: {
  site: string;
  issue: JiraIssueRef;
  to: string | null;
  from?: string | null;
  user?: string;
}) {
  const from =
    opts.from !== undefined ? opts.from : (opts.issue.fields.assignee?.accountId ?? null);
  const name = (id: string | null) => (id ? accountOf(id).displayName : null);
  const item: ChangeItem = {
    field: "assignee",
    fieldtype: "jira",
    fieldId: "assignee",
    from,
    fromString: name(from),
    to: opts.to,
    toString: name(opts.to),
    tmpFromAccountId: from,
    tmpToAccountId: opts.to,
  };
  return issueUpdated({ ...opts, items: [item], assignee: opts.to });
}

/** Labels changed: Jira sends them space-separated in fromString/toString, from/to null. */
export function labelsChanged(opts: {
  site: string;
  issue: JiraIssueRef;
  from: string[];
  to: string[];
  user?: string;
}) {
  const item: ChangeItem = {
    field: "labels",
    fieldtype: "jira",
    fieldId: "labels",
    from: null,
    fromString: opts.from.join(" "),
    to: null,
    toString: opts.to.join(" "),
  };
  return issueUpdated({ ...opts, items: [item], labels: opts.to });
}

/** An issue was created; Jira's changelog lists every field it was created with. */
export function issueCreated(opts: { site: string; issue: JiraIssueRef; user?: string }) {
  const at = Date.now();
  const { fields } = opts.issue;
  const reporter = fields.reporter?.accountId ?? opts.user ?? HUMAN_ACCOUNT_ID;
  const status = WORKFLOW.find((s) => s.status.name === (fields.status?.name ?? "To Do"))!;
  const items: ChangeItem[] = [];
  const description =
    fields.description === undefined || fields.description === null
      ? ""
      : wikiOf(fields.description);
  if (description) items.push(changeItem("description", null, description));
  if (fields.assignee) {
    const id = fields.assignee.accountId;
    items.push({
      field: "assignee",
      fieldtype: "jira",
      fieldId: "assignee",
      from: null,
      fromString: null,
      to: id,
      toString: accountOf(id).displayName,
      tmpFromAccountId: null,
      tmpToAccountId: id,
    });
  }
  if (fields.labels?.length) items.push(changeItem("labels", "", fields.labels.join(" ")));
  items.push(
    {
      field: "priority",
      fieldtype: "jira",
      fieldId: "priority",
      from: null,
      fromString: null,
      to: "3",
      toString: "Medium",
    },
    {
      field: "reporter",
      fieldtype: "jira",
      fieldId: "reporter",
      from: null,
      fromString: null,
      to: reporter,
      toString: accountOf(reporter).displayName,
      tmpFromAccountId: null,
      tmpToAccountId: reporter,
    },
    {
      field: "Status",
      fieldtype: "jira",
      fieldId: "status",
      from: null,
      fromString: null,
      to: status.status.id,
      toString: status.status.name,
    },
    changeItem("summary", null, fields.summary),
  );
  return {
    timestamp: at,
    webhookEvent: "jira:issue_created",
    issue_event_type_name: "issue_created",
    user: jiraUser(opts.site, accountOf(opts.user ?? HUMAN_ACCOUNT_ID)),
    issue: issuePayload(opts.site, opts.issue, { full: true }),
    changelog: { id: nextId(), items },
    matchedWebhookIds: [1],
  };
}

/** `sha256=<hex>`: HMAC-SHA256 of the raw body with the webhook's secret (Jira's X-Hub-Signature). */
const jiraSignature = (raw: string, secret: string) =>
  `sha256=${createHmac("sha256", secret).update(raw).digest("hex")}`;

/**
 * Delivers a webhook body to `${base}/hooks/jira` as Jira Cloud does: signed unless `secret` is
 * null, with a delivery identifier (a new one unless given; Jira keeps it across retries), the
 * Primary flow, and `X-Atlassian-Webhook-Retry` on a retry.
 */
export async function postJira(
  base: string,
  payload: unknown,
  opts: { identifier?: string; secret?: string | null; retry?: number } = {},
) {
  const raw = typeof payload === "string" ? payload : JSON.stringify(payload);
  const identifier = opts.identifier ?? randomUUID();
  const secret = opts.secret === undefined ? JIRA_WEBHOOK_SECRET : opts.secret;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-atlassian-webhook-identifier": identifier,
    "x-atlassian-webhook-flow": "Primary",
  };
  if (secret !== null) headers["x-hub-signature"] = jiraSignature(raw, secret);
  if (opts.retry !== undefined) headers["x-atlassian-webhook-retry"] = String(opts.retry);
  const res = await fetch(`${base}/hooks/jira`, { method: "POST", body: raw, headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the text as is
  }
  return { status: res.status, body, identifier };
}
