import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { eq } from "drizzle-orm";
import {
  repositoriesForGrant,
  repositoryCredential,
  schema,
  sessionBranch,
  sessionMayPush,
  type GitCredential,
  type Repository,
} from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { requestLogger } from "../http.ts";
import { sandboxGrant } from "../sandbox-auth.ts";

/** The smart-HTTP endpoints git uses, after `/sandbox/git/<repository id>`. */
const SERVICES = new Set(["git-upload-pack", "git-receive-pack"]);
/** Request headers git's smart HTTP needs upstream; everything else (its Authorization above all) stays here. */
const PASSED = ["accept", "content-type", "content-encoding", "git-protocol", "user-agent"];
const MAX_COMMANDS_BYTES = 1024 * 1024;

/**
 * Tandem's git remote for the sandbox: `<control>/sandbox/git/<repository id>` forwards git's
 * smart HTTP to the repository's real remote with its stored credential or one a provider mints
 * for it (a GitHub App's installation token narrowed to the grant's repositories, say), so no git
 * secret ever enters a sandbox. Git
 * authenticates with the sandbox token (the credential helper gives it as the password). Fetch
 * is served for the grant's repositories; push only for a session's token, and only to the
 * session's branches: any other ref refuses the whole push with a line git prints.
 */
export function sandboxGitRoutes(app: FastifyInstance, deps: WebDeps) {
  const minters = deps.providers.flatMap((p) => (p.gitCredential ? [p.gitCredential] : []));
  /** The first credential a provider has for the repository, else the one stored with it. */
  const credentialFor = async (
    grant: { orgId: string; repositoryIds: string[] },
    repo: Repository,
  ): Promise<GitCredential | null> => {
    for (const mint of minters) {
      const minted = await mint(grant, repo);
      if (minted) return minted;
    }
    return repositoryCredential(deps.config.ENCRYPTION_KEY, repo);
  };
  void app.register(async (scope) => {
    // Bodies are relayed as they come (a pack may be large); the receive-pack commands are read on the way.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_req, _payload, done) => done(null));

    scope.route({
      method: ["GET", "POST"],
      url: "/sandbox/git/:repositoryId/*",
      handler: async (req, reply) => {
        const grant = await sandboxGrant(deps, req);
        if (!grant) {
          // git asks its credential helper only after a Basic challenge.
          return reply
            .code(401)
            .header("www-authenticate", 'Basic realm="Tandem git"')
            .type("text/plain")
            .send(
              "Tandem: the sandbox token is unknown, expired or revoked, or its session has ended\n",
            );
        }
        const log = requestLogger(
          req,
          grant.sessionId
            ? { sessionId: grant.sessionId }
            : { orgId: grant.orgId, purpose: grant.purpose },
        );
        const { repositoryId, "*": rest } = req.params as { repositoryId: string; "*": string };
        const service =
          req.method === "GET"
            ? rest === "info/refs"
              ? String((req.query as { service?: string }).service ?? "")
              : ""
            : rest;
        if (!SERVICES.has(service) || (req.method === "GET") !== (rest === "info/refs")) {
          return text(
            reply,
            404,
            `Tandem: git's smart HTTP only (info/refs, git-upload-pack, git-receive-pack), not ${req.method} ${rest}\n`,
          );
        }
        const repo = (await repositoriesForGrant(deps.database.db, grant)).find(
          (r) => r.id === repositoryId,
        );
        if (!repo) return text(reply, 404, "Tandem: this sandbox has no such repository\n");
        if (service === "git-receive-pack") {
          if (!grant.sessionId)
            return text(reply, 403, "Tandem: a build sandbox may fetch, not push\n");
          if (req.method === "POST") {
            const refused = await checkPush(deps, grant.sessionId, req);
            if (refused) {
              log.warn({ repository: repo.name, refs: refused.refs }, "git.push_refused");
              return refusePush(reply, refused);
            }
          }
        }
        const credential = await credentialFor(grant, repo);
        log.info({ repository: repo.name, service, method: req.method }, "git.forwarded");
        return forward(
          reply,
          req,
          repo,
          `${rest}${req.method === "GET" ? `?service=${service}` : ""}`,
          credential,
          pushedHead(req),
        );
      },
    });
  });
}

const text = (reply: FastifyReply, status: number, body: string) =>
  reply.code(status).type("text/plain; charset=utf-8").send(body);

/** What the push check read of the body: it goes upstream first, then the rest of the stream. */
const HEAD = Symbol("receive-pack head");
const pushedHead = (req: FastifyRequest): Buffer | undefined =>
  (req as unknown as Record<symbol, Buffer | undefined>)[HEAD];

interface Refused {
  refs: string[];
  allowed: string;
  sideband: boolean;
}

/**
 * Reads receive-pack's command list (pkt-lines `<old> <new> <ref>`, the first with the client's
 * capabilities, up to a flush) and checks every ref against the session's; the bytes read are
 * kept for the upstream. Null when the push may go on.
 */
async function checkPush(
  deps: WebDeps,
  sessionId: string,
  req: FastifyRequest,
): Promise<Refused | null> {
  const session = await deps.database.db.query.sessions.findFirst({
    where: eq(schema.sessions.id, sessionId),
  });
  const allowed = `${sessionBranch(sessionId)} (and branches below it)`;
  if (req.headers["content-encoding"] && req.headers["content-encoding"] !== "identity") {
    return {
      refs: [`(a ${req.headers["content-encoding"]}-encoded push)`],
      allowed,
      sideband: false,
    };
  }
  const { head, lines } = await readPktLines(req.raw);
  (req as unknown as Record<symbol, Buffer>)[HEAD] = head;
  const caps = lines[0]?.split("\0")[1]?.split(" ") ?? [];
  const sideband = caps.includes("side-band-64k") || caps.includes("side-band");
  const refs = lines
    .map((l) => /^[0-9a-f]{40,64} [0-9a-f]{40,64} (\S+)$/.exec(l.split("\0")[0]!.trim())?.[1])
    .filter((r): r is string => !!r);
  if (!refs.length) return { refs: ["(no refs)"], allowed, sideband };
  const refused = refs.filter((ref) => !session || !sessionMayPush(session, ref));
  return refused.length ? { refs: refused, allowed, sideband } : null;
}

/**
 * pkt-lines from the start of `stream` up to the first flush (at most MAX_COMMANDS_BYTES); the
 * stream is left paused, unconsumed past what was read (`for await` would destroy it on return).
 */
function readPktLines(stream: Readable): Promise<{ head: Buffer; lines: string[] }> {
  return new Promise((resolve, reject) => {
    let head = Buffer.alloc(0);
    const done = (lines: string[]) => {
      stream.off("data", onData).off("end", onEnd).off("error", reject);
      stream.pause();
      resolve({ head, lines });
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const parsed = parsePktLines(head);
      if (parsed) done(parsed);
      else if (head.length > MAX_COMMANDS_BYTES) done([]);
    };
    const onEnd = () => done(parsePktLines(head) ?? []);
    stream.on("data", onData).on("end", onEnd).on("error", reject);
  });
}

/** The payloads up to the first flush packet, or null when `buf` does not hold one yet. */
function parsePktLines(buf: Buffer): string[] | null {
  const lines: string[] = [];
  for (let at = 0; at + 4 <= buf.length;) {
    const size = Number.parseInt(buf.subarray(at, at + 4).toString("latin1"), 16);
    if (Number.isNaN(size)) return [];
    if (size === 0) return lines;
    if (size < 4 || at + size > buf.length) return size < 4 ? [] : null;
    lines.push(
      buf
        .subarray(at + 4, at + size)
        .toString("utf8")
        .replace(/\n$/, ""),
    );
    at += size;
  }
  return null;
}

const pkt = (payload: string | Buffer) => {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, "0")), body]);
};
const FLUSH = Buffer.from("0000");

/**
 * Receive-pack's own answer, so git shows why: `remote: Tandem: …` on the progress band (when
 * the client asked for side-band) and `! [remote rejected]` for each ref in the status report.
 */
function refusePush(reply: FastifyReply, refused: Refused) {
  const why = `Tandem: this session may only push to ${refused.allowed}; refused ${refused.refs.join(", ")}\n`;
  const report = Buffer.concat([
    pkt("unpack ok\n"),
    ...refused.refs.map((ref) => pkt(`ng ${ref} refused by Tandem\n`)),
    FLUSH,
  ]);
  const body = refused.sideband
    ? Buffer.concat([
        pkt(Buffer.concat([Buffer.from([2]), Buffer.from(why)])),
        pkt(Buffer.concat([Buffer.from([1]), report])),
        FLUSH,
      ])
    : report;
  // The client is still sending its pack: it is read and dropped, so git gets to read the answer.
  reply.request.raw.resume();
  return reply
    .code(200)
    .header("content-type", "application/x-git-receive-pack-result")
    .header("cache-control", "no-cache")
    .send(body);
}

/** Relays the request to the real remote with the credential, and its answer back, streamed. */
function forward(
  reply: FastifyReply,
  req: FastifyRequest,
  repo: Repository,
  suffix: string,
  credential: GitCredential | null,
  head: Buffer | undefined,
) {
  const target = new URL(`${repo.cloneUrl.replace(/\/+$/, "")}/${suffix}`);
  const headers: http.OutgoingHttpHeaders = Object.fromEntries(
    PASSED.filter((h) => req.headers[h] !== undefined).map((h) => [h, req.headers[h]]),
  );
  if (credential)
    headers.authorization = `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString("base64")}`;
  if (req.headers["content-length"] && !head)
    headers["content-length"] = req.headers["content-length"];
  else if (req.method === "POST") headers["transfer-encoding"] = "chunked";
  reply.hijack();
  const res = reply.raw;
  const upstream = (target.protocol === "https:" ? https : http).request(target, {
    method: req.method,
    headers,
    timeout: 60_000,
  });
  upstream.on("response", (up) => {
    const out: http.OutgoingHttpHeaders = {};
    for (const h of ["content-type", "content-encoding", "cache-control", "expires", "pragma"])
      if (up.headers[h]) out[h] = up.headers[h];
    // An upstream 401 would make git prompt for a password it cannot have: the stored credential is what failed.
    if (up.statusCode === 401) {
      up.resume();
      res.writeHead(502, { "content-type": "text/plain" });
      return res.end(`Tandem: ${repo.name}'s remote refused Tandem's credential for it\n`);
    }
    res.writeHead(up.statusCode ?? 502, out);
    up.pipe(res);
  });
  upstream.on("timeout", () => upstream.destroy(new Error("the remote did not answer in time")));
  upstream.on("error", (err) => {
    req.log.warn({ err: err.message, repository: repo.name }, "git.upstream_failed");
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`Tandem: could not reach ${repo.name}'s remote (${err.message})\n`);
    } else res.destroy();
  });
  res.on("close", () => upstream.destroy());
  if (head) upstream.write(head);
  req.raw.pipe(upstream);
  req.raw.resume();
}
