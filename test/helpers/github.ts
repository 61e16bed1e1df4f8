import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { eq } from "drizzle-orm";
import { schema } from "@tandem/core";
import { until, type Stack } from "./stack.ts";

export const WEBHOOK_SECRET = "test-github-webhook-secret";
export const APP_ID = "4242";
export const APP_SLUG = "tandem-test";
export const BOT_LOGIN = `${APP_SLUG}[bot]`;

/** The App's RSA key pair, made for this test run. */
export function appKeys() {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    publicKey: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

type Definition = { name: string; examples: Array<Record<string, any>> };
const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as Definition[];

/** A payload from @octokit/webhooks-examples (deep copy): the first example of `event` matching `where`. */
function example(
  event: string,
  where: (e: Record<string, any>) => boolean = () => true,
): Record<string, any> {
  const found = definitions.find((d) => d.name === event)?.examples.find(where);
  if (!found) throw new Error(`no @octokit/webhooks-examples payload for ${event}`);
  return structuredClone(found);
}

let ids = 50_000;
const nextId = () => ++ids;

/** Points an example at our repository, installation and people. */
function adapt(
  p: Record<string, any>,
  o: { repo: string; installationId: number; sender: string; senderType?: string },
) {
  const [owner, name] = o.repo.split("/");
  p.repository = {
    ...p.repository,
    name,
    full_name: o.repo,
    owner: { ...p.repository.owner, login: owner },
  };
  p.installation = { id: o.installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" };
  p.sender = { ...p.sender, login: o.sender, type: o.senderType ?? "User" };
  return p;
}

export interface CommentOpts {
  repo: string;
  installationId: number;
  number: number;
  body: string;
  user?: string;
  userType?: string;
  pullRequest?: boolean;
  commentId?: number;
}

/** `issue_comment.created`, on an issue or (pullRequest) a PR. */
export function issueComment(o: CommentOpts) {
  const p = adapt(
    example("issue_comment", (e) => e.action === "created"),
    { ...o, sender: o.user ?? "alice", senderType: o.userType },
  );
  p.issue.number = o.number;
  p.issue.title = `Issue ${o.number}`;
  p.issue.body = "The greeting is too short.";
  if (o.pullRequest)
    p.issue.pull_request = { url: `https://api.github.example/repos/${o.repo}/pulls/${o.number}` };
  else delete p.issue.pull_request;
  p.comment.id = o.commentId ?? nextId();
  p.comment.body = o.body;
  p.comment.user = { ...p.comment.user, login: o.user ?? "alice", type: o.userType ?? "User" };
  return p;
}

/** `pull_request_review_comment.created` on `path` at `line`. */
export function reviewComment(
  o: CommentOpts & { path: string; line: number; diffHunk: string; headRef: string },
) {
  const p = adapt(
    example("pull_request_review_comment", (e) => e.action === "created"),
    { ...o, sender: o.user ?? "alice" },
  );
  p.pull_request.number = o.number;
  p.pull_request.head = {
    ...p.pull_request.head,
    ref: o.headRef,
    repo: { ...p.pull_request.head.repo, full_name: o.repo },
  };
  p.comment.id = o.commentId ?? nextId();
  Object.assign(p.comment, { body: o.body, path: o.path, line: o.line, diff_hunk: o.diffHunk });
  p.comment.user = { ...p.comment.user, login: o.user ?? "alice", type: "User" };
  return p;
}

/** `issues.assigned` to `assignee`. */
export function issueAssigned(o: {
  repo: string;
  installationId: number;
  number: number;
  assignee: string;
  sender?: string;
  title: string;
  body: string;
}) {
  const p = adapt(
    example("issues", (e) => e.action === "assigned"),
    { ...o, sender: o.sender ?? "alice" },
  );
  Object.assign(p.issue, { number: o.number, title: o.title, body: o.body });
  delete p.issue.pull_request;
  p.assignee = {
    ...p.assignee,
    login: o.assignee,
    type: o.assignee.endsWith("[bot]") ? "Bot" : "User",
  };
  return p;
}

/** `installation.created` for `installationId`. */
export function installationCreated(o: { installationId: number; account: string }) {
  const p = example("installation", (e) => e.action === "created");
  p.installation = {
    ...p.installation,
    id: o.installationId,
    account: { ...p.installation.account, login: o.account },
  };
  return p;
}

/** The headers GitHub sends: event, delivery id, and `X-Hub-Signature-256` = sha256=HMAC(secret, body). */
export function githubHeaders(
  event: string,
  body: string,
  opts: { secret?: string; deliveryId?: string } = {},
) {
  return {
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-event": event,
    "x-github-delivery": opts.deliveryId ?? randomUUID(),
    "x-hub-signature-256": `sha256=${createHmac("sha256", opts.secret ?? WEBHOOK_SECRET)
      .update(body)
      .digest("hex")}`,
  };
}

export async function postGitHub(
  base: string,
  event: string,
  payload: unknown,
  opts: { secret?: string; deliveryId?: string } = {},
) {
  const raw = JSON.stringify(payload);
  const res = await fetch(`${base}/hooks/github`, {
    method: "POST",
    body: raw,
    headers: githubHeaders(event, raw, opts),
  });
  return { status: res.status, text: await res.text() };
}

/** The settings that point Tandem's GitHub App (this file's id and secret) at a fake GitHub API. */
export const githubAppEnv = (apiUrl: string, privateKey: string) => ({
  GITHUB_APP_ID: APP_ID,
  GITHUB_PRIVATE_KEY: privateKey,
  GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
  GITHUB_API_URL: apiUrl,
});

/** GitHub tells Tandem about the App's installation; resolves with `repo` once it is synced. */
export async function installGitHubApp(
  stack: Stack,
  o: { installationId: number; account: string; repo: string },
) {
  const res = await postGitHub(stack.base, "installation", installationCreated(o));
  if (res.status !== 202)
    throw new Error(`installation webhook answered ${res.status}: ${res.text}`);
  return until("the synced repository", async () =>
    stack.rt.database.db.query.repositories.findFirst({
      where: eq(schema.repositories.name, o.repo),
    }),
  );
}
