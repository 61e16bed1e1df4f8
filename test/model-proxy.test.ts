import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { and, eq, gte, sql } from "drizzle-orm";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  budgetMonthStart,
  getSessionOrThrow,
  issueSandboxToken,
  listEventsAfter,
  schema,
  type Logger,
} from "@tandem/core";
import { buildApp } from "@tandem/web";
import { apiClient, ownerToken, type ApiClient } from "./helpers/api.ts";
import { headersOnly } from "./helpers/raw-http.ts";
import { DB_KINDS, startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";

const UPSTREAM_KEY = "test-upstream-key";
const CHUNK_PAUSE_MS = 100;

interface UpstreamRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  startedAt: number;
  finishedAt?: number;
  aborted?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sse = (event: object) =>
  `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`;

/**
 * A model API stand-in that insists on the real key: `/v1/responses` streams SSE in pauses and
 * ends with usage 11/7, `/v1/chat/completions` answers JSON with usage 5/3 (or echoes the body
 * with `?echo=1`), `/v1/messages` streams Anthropic SSE with usage 20+5 cached / 9 and wants the
 * key in x-api-key as well, `/v1/models` lists one model.
 */
async function startFakeUpstream() {
  const requests: UpstreamRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rec: UpstreamRequest = {
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      body: Buffer.concat(chunks),
      startedAt: Date.now(),
    };
    requests.push(rec);
    res.on("close", () => {
      if (!res.writableFinished) rec.aborted = true;
    });
    const path = req.url!.split("?")[0];
    const keyOk =
      req.headers.authorization === `Bearer ${UPSTREAM_KEY}` &&
      (path !== "/v1/messages" || req.headers["x-api-key"] === UPSTREAM_KEY);
    if (!keyOk) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: { message: "bad key" } }));
    }
    if (path === "/v1/chat/completions" && req.url!.includes("echo=1")) {
      res.writeHead(200, {
        "content-type": req.headers["content-type"] ?? "application/octet-stream",
      });
      return res.end(rec.body);
    }
    if (path === "/v1/chat/completions") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(
        JSON.stringify({
          id: "chatcmpl_1",
          object: "chat.completion",
          usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 },
        }),
      );
    }
    if (path?.startsWith("/v1/models")) {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(
        JSON.stringify({ object: "list", data: [{ id: "test-model", object: "model" }] }),
      );
    }
    if (path === "/v1/messages") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(
        sse({
          type: "message_start",
          message: {
            id: "msg_1",
            usage: { input_tokens: 20, cache_read_input_tokens: 5, output_tokens: 1 },
          },
        }),
      );
      res.write(
        sse({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hi" } }),
      );
      res.write(
        sse({
          type: "message_delta",
          delta: { stop_reason: "end_turn" },
          usage: { output_tokens: 9 },
        }),
      );
      res.write(sse({ type: "message_stop" }));
      return res.end();
    }
    const deltas = req.url!.includes("long=1") ? 50 : 3;
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(sse({ type: "response.created", response: { id: "resp_1", status: "in_progress" } }));
    for (let i = 0; i < deltas && !rec.aborted; i++) {
      await sleep(CHUNK_PAUSE_MS);
      res.write(sse({ type: "response.output_text.delta", delta: `part ${i} ` }));
    }
    if (rec.aborted) return;
    await sleep(CHUNK_PAUSE_MS);
    res.write(
      sse({
        type: "response.completed",
        response: {
          id: "resp_1",
          status: "completed",
          usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18 },
        },
      }),
    );
    rec.finishedAt = Date.now();
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    requests,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A logger that keeps every line, to prove secrets never reach the log. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  );
  return { lines, logger: logger as unknown as Logger };
}

/** Sends a request exactly as written, path included (fetch would resolve `..` itself). */
function rawRequest(base: string, path: string, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const url = new URL(base);
    http
      .request({ hostname: url.hostname, port: url.port, path, method: "GET", headers }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
      .on("error", reject)
      .end();
  });
}

describe.each(DB_KINDS)("model proxy on %s", (kind) => {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let rt: TestRuntime;
  let app: FastifyInstance;
  let base: string;
  let owner: ApiClient;
  let logs: ReturnType<typeof capturingLogger>;
  const tokens: string[] = [];

  const newSession = async () => {
    const created = await owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "hi",
    });
    expect(created.status).toBe(201);
    const token = await issueSandboxToken(rt.database.db, created.body.id);
    tokens.push(token);
    return { id: created.body.id as string, token };
  };
  const proxy = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${base}/proxy/model/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as object) },
    });
  const post = (headers: Record<string, string> = {}): RequestInit => ({
    method: "POST",
    body: "{}",
    headers: { "content-type": "application/json", ...headers },
  });
  const setSettings = async (patch: Record<string, unknown>) => {
    const res = await owner.request("PATCH", `/api/orgs/${rt.defaultOrgId}/settings`, patch);
    expect(res.status).toBe(200);
  };
  const errorsOf = async (id: string) =>
    (await listEventsAfter(rt.database.db, id, 0)).flatMap((e) =>
      e.body.type === "error" ? [e.body.message] : [],
    );
  const orgUsedThisMonth = async () => {
    const [row] = await rt.database.db
      .select({
        used: sql<string>`coalesce(sum(${schema.modelUsage.inputTokens} + ${schema.modelUsage.outputTokens}), 0)`,
      })
      .from(schema.modelUsage)
      .where(
        and(
          eq(schema.modelUsage.orgId, rt.defaultOrgId),
          gte(schema.modelUsage.createdAt, budgetMonthStart(new Date())),
        ),
      );
    return Number(row!.used);
  };
  const usageOf = async (id: string) => {
    const s = await getSessionOrThrow(rt.database.db, rt.defaultOrgId, id);
    return [s.inputTokens, s.outputTokens];
  };

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    rt = await startTestRuntime(kind, {
      MODEL_UPSTREAM_URL: upstream.url,
      MODEL_UPSTREAM_API_KEY: UPSTREAM_KEY,
    });
    logs = capturingLogger();
    app = await buildApp({ ...rt, logger: logs.logger });
    base = await app.listen({ port: 0, host: "127.0.0.1" });
    owner = apiClient(app, await ownerToken(rt));
    expect(
      (
        await owner.request("POST", "/api/repositories", {
          name: "acme/app",
          cloneUrl: "https://git.example.test/acme/app.git",
        })
      ).status,
    ).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
    await upstream?.close();
  });

  it("forwards method, path, query, headers and body with the real key instead of the sandbox token", async () => {
    const { token } = await newSession();
    const body = JSON.stringify({ model: "test-model", input: "héllo ✓", stream: true });
    const res = await proxy(token, "/responses?api-version=2025-01-01&q=a%20b&x=1", {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "openai-beta": "responses=v1",
        cookie: "tandem_session=nope",
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    await res.text();
    const seen = upstream.requests.at(-1)!;
    expect(seen.method).toBe("POST");
    expect(seen.url).toBe("/v1/responses?api-version=2025-01-01&q=a%20b&x=1");
    expect(seen.body.toString("utf8")).toBe(body);
    expect(seen.headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(seen.headers["openai-beta"]).toBe("responses=v1");
    expect(seen.headers["content-type"]).toBe("application/json");
    expect(seen.headers.cookie).toBeUndefined();
    expect(JSON.stringify(seen.headers)).not.toContain(token);
  });

  it("passes any content type through byte for byte", async () => {
    const { token } = await newSession();
    const bytes = randomBytes(4096);
    const res = await proxy(token, "/chat/completions?echo=1", {
      method: "POST",
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("streams the reply unbuffered: the first event arrives long before the upstream finishes", async () => {
    const { token } = await newSession();
    const sentAt = Date.now();
    const res = await proxy(token, "/responses", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    const arrivals: Array<{ at: number; text: string }> = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body!)
      arrivals.push({ at: Date.now(), text: decoder.decode(chunk as Uint8Array) });
    const finishedAt = upstream.requests.at(-1)!.finishedAt!;
    expect(finishedAt - sentAt).toBeGreaterThanOrEqual(4 * CHUNK_PAUSE_MS - 20);
    expect(arrivals[0]!.text).toContain("response.created");
    expect(arrivals[0]!.at).toBeLessThan(finishedAt - 2 * CHUNK_PAUSE_MS);
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    expect(arrivals.map((a) => a.text).join("")).toContain('"input_tokens":11');
  });

  it("adds each reply's usage to the session, from SSE and from JSON", async () => {
    const { id, token } = await newSession();
    for (let i = 0; i < 2; i++) {
      const res = await proxy(token, "/responses", {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      await res.text();
    }
    expect(await usageOf(id)).toEqual([22, 14]);
    const json = await proxy(token, "/chat/completions", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(await json.json()).toMatchObject({ usage: { prompt_tokens: 5 } });
    expect(await usageOf(id)).toEqual([27, 17]);
  });

  it("aborts the upstream when the client goes away", async () => {
    const { token } = await newSession();
    const controller = new AbortController();
    const res = await proxy(token, "/responses?long=1", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    const seen = upstream.requests.at(-1)!;
    for (let i = 0; i < 50 && !seen.aborted; i++) await sleep(20);
    expect(seen.aborted).toBe(true);
    expect(seen.finishedAt).toBeUndefined();
  });

  it("refuses the token once the session is stopped, without calling upstream", async () => {
    const { id, token } = await newSession();
    expect((await proxy(token, "/chat/completions", { method: "POST", body: "{}" })).status).toBe(
      200,
    );
    expect((await owner.request("POST", `/api/sessions/${id}/stop`)).status).toBe(200);
    const before = upstream.requests.length;
    const res = await proxy(token, "/responses", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: { code: "unauthorized", message: "sandbox token unknown, or its session has ended" },
    });
    expect(upstream.requests.length).toBe(before);
  });

  it("refuses user API tokens, unknown tokens and no token; sandbox tokens do not open /api", async () => {
    const before = upstream.requests.length;
    const attempts: Array<Record<string, string>> = [
      { authorization: `Bearer ${owner.token}` },
      { authorization: "Bearer tdm_not-a-sandbox-token" },
      {},
    ];
    for (const headers of attempts) {
      const res = await fetch(`${base}/proxy/model/v1/models`, { headers });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe("unauthorized");
    }
    expect(upstream.requests.length).toBe(before);
    // …and a sandbox token is no user token either.
    const { token } = await newSession();
    expect(
      (await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status,
    ).toBe(401);
  });

  it("does not follow dot segments or encoded slashes out of the prefix", async () => {
    const { token } = await newSession();
    const before = upstream.requests.length;
    for (const path of [
      "/proxy/model/v1/../../api/me",
      "/proxy/model/v1/%2e%2e/secrets",
      "/proxy/model/v1/a%2f..%2fb",
      "/proxy/model/v1/./models",
    ]) {
      expect(await rawRequest(base, path, { authorization: `Bearer ${token}` }), path).toBe(400);
    }
    expect(upstream.requests.length).toBe(before);
  });

  it("answers 502 when the upstream is down, and logs it with the session id but never the key", async () => {
    const { id, token } = await newSession();
    const dead = await startFakeUpstream();
    await dead.close();
    const deadLogs = capturingLogger();
    const deadApp = await buildApp({
      ...rt,
      logger: deadLogs.logger,
      config: { ...rt.config, MODEL_UPSTREAM_URL: dead.url },
    });
    try {
      const deadBase = await deadApp.listen({ port: 0, host: "127.0.0.1" });
      const res = await fetch(`${deadBase}/proxy/model/v1/responses`, {
        method: "POST",
        body: "{}",
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(502);
      const body = await res.json();
      expect(body.error.code).toBe("upstream_unreachable");
      expect(body.error.message).toMatch(/could not be reached/);
      expect(JSON.stringify(body)).not.toContain(UPSTREAM_KEY);
      const line = deadLogs.lines.find((l) => l.includes("model_proxy.upstream_unreachable"));
      expect(line).toContain(id);
      expect(deadLogs.lines.join("")).not.toContain(UPSTREAM_KEY);
    } finally {
      await deadApp.close();
    }
  });

  it("forwards only the endpoints an agent needs; anything else is 404 naming them, and never reaches the upstream", async () => {
    const { token } = await newSession();
    const before = upstream.requests.length;
    const refused: Array<[string, string]> = [
      ["GET", "/files"],
      ["POST", "/files"],
      ["DELETE", "/responses/x"],
      ["GET", "/responses"],
      ["PUT", "/responses"],
      ["POST", "/batches"],
      ["GET", ""],
      ["POST", "/responses/"],
      ["POST", "/respons%65s"],
      ["GET", "/models/a/b"],
      ["DELETE", "/models/ft-1"],
    ];
    for (const [method, path] of refused) {
      const res = await proxy(
        token,
        path,
        method === "GET" || method === "DELETE" ? { method } : { method, body: "{}" },
      );
      expect(res.status, `${method} ${path}`).toBe(404);
      const { error } = await res.json();
      expect(error.code).toBe("not_found");
      expect(error.message).toContain(`does not forward ${method} /proxy/model/v1${path}`);
      expect(error.message).toContain(
        "POST /proxy/model/v1/responses, POST /proxy/model/v1/chat/completions, POST /proxy/model/v1/messages",
      );
    }
    expect(upstream.requests.length).toBe(before);
    expect((await proxy(token, "/models")).status).toBe(200);
    expect((await proxy(token, "/models/test-model")).status).toBe(200);
    expect(upstream.requests.slice(before).map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /v1/models",
      "GET /v1/models/test-model",
    ]);
  });

  it("drops headers that pick another organization, project or account, and never forwards the client's key", async () => {
    const { id, token } = await newSession();
    const res = await proxy(
      token,
      "/responses",
      post({
        "openai-organization": "org-someone-else",
        "openai-project": "proj_someone_else",
        "chatgpt-account-id": "acct-else",
        "api-key": "client-placeholder-key",
        "openai-beta": "responses=v1",
      }),
    );
    expect(res.status).toBe(200);
    await res.text();
    const seen = upstream.requests.at(-1)!.headers;
    expect(seen["openai-organization"]).toBeUndefined();
    expect(seen["openai-project"]).toBeUndefined();
    expect(seen["chatgpt-account-id"]).toBeUndefined();
    expect(seen["openai-beta"]).toBe("responses=v1");
    expect(seen["api-key"]).toBe(UPSTREAM_KEY);
    expect(seen["x-api-key"]).toBeUndefined();
    expect(JSON.stringify(seen)).not.toContain("client-placeholder-key");

    // Anthropic-style: the sandbox token in x-api-key; the upstream gets the real key there and as Bearer.
    const before = await usageOf(id);
    const msg = await fetch(`${base}/proxy/model/v1/messages`, {
      method: "POST",
      body: "{}",
      headers: {
        "content-type": "application/json",
        "x-api-key": token,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "tools-2024-04-04",
        "anthropic-workspace-id": "wrkspc_else",
      },
    });
    expect(msg.status).toBe(200);
    expect(await msg.text()).toContain("message_stop");
    const anthropic = upstream.requests.at(-1)!.headers;
    expect(anthropic["x-api-key"]).toBe(UPSTREAM_KEY);
    expect(anthropic.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(anthropic["anthropic-version"]).toBe("2023-06-01");
    expect(anthropic["anthropic-beta"]).toBe("tools-2024-04-04");
    expect(anthropic["anthropic-workspace-id"]).toBeUndefined();
    expect(JSON.stringify(anthropic)).not.toContain(token);
    // …and its streamed usage is metered: 20 + 5 cached in, 9 out.
    expect(await usageOf(id)).toEqual([before[0]! + 25, before[1]! + 9]);
  });

  it("a session over its budget gets 429 with the reason, the upstream gets nothing, and the session's log says so once", async () => {
    const { id, token } = await newSession();
    await setSettings({ sessionTokenBudget: 18 });
    try {
      expect(await (await proxy(token, "/responses", post())).text()).toContain(
        "response.completed",
      );
      const count = upstream.requests.length;
      const message = "token budget exhausted: session used 18 of 18 tokens";
      for (let i = 0; i < 2; i++) {
        const res = await proxy(token, "/responses", post());
        expect(res.status).toBe(429);
        expect(res.headers.get("x-should-retry")).toBe("false");
        expect(await res.json()).toEqual({
          error: { code: "token_budget_exhausted", type: "token_budget_exhausted", message },
        });
      }
      expect((await proxy(token, "/models")).status).toBe(429);
      expect(upstream.requests.length).toBe(count);
      expect(await errorsOf(id)).toEqual([message]);
      // Another session of the org has its own budget.
      const fresh = await newSession();
      expect((await proxy(fresh.token, "/chat/completions", post())).status).toBe(200);
    } finally {
      await setSettings({ sessionTokenBudget: null });
    }
  });

  it("an org over its monthly budget gets 429 in every session; last month's usage does not count", async () => {
    const { id, token } = await newSession();
    const lastMonth = new Date(budgetMonthStart(new Date()).getTime() - 60_000);
    await rt.database.db.insert(schema.modelUsage).values({
      orgId: rt.defaultOrgId,
      sessionId: id,
      inputTokens: 1_000_000,
      outputTokens: 0,
      createdAt: lastMonth,
    });
    const before = await orgUsedThisMonth();
    await setSettings({ monthlyTokenBudget: before + 1 });
    try {
      expect(await (await proxy(token, "/responses", post())).text()).toContain(
        "response.completed",
      );
      expect(await orgUsedThisMonth()).toBe(before + 18);
      const count = upstream.requests.length;
      const month = new Date().toISOString().slice(0, 7);
      const message = `token budget exhausted: organization used ${before + 18} of ${before + 1} tokens in ${month} (UTC)`;
      const res = await proxy(token, "/responses", post());
      expect(res.status).toBe(429);
      expect((await res.json()).error.message).toBe(message);
      const other = await newSession();
      const otherRes = await proxy(other.token, "/chat/completions", post());
      expect(otherRes.status).toBe(429);
      expect((await otherRes.json()).error.message).toBe(message);
      expect(upstream.requests.length).toBe(count);
      expect(await errorsOf(id)).toEqual([message]);
      expect(await errorsOf(other.id)).toEqual([message]);
    } finally {
      await setSettings({ monthlyTokenBudget: null });
    }
  });

  it("a stream in flight when the budget is used up completes; the next call is refused", async () => {
    const { token } = await newSession();
    const res = await proxy(token, "/responses", post());
    expect(res.status).toBe(200);
    await setSettings({ sessionTokenBudget: 1 });
    try {
      expect(await res.text()).toContain("response.completed");
      expect((await proxy(token, "/responses", post())).status).toBe(429);
    } finally {
      await setSettings({ sessionTokenBudget: null });
    }
  });

  it("answers a refused request before reading its body: a 60 MB announcement is not waited for", async () => {
    const before = upstream.requests.length;
    const bigBody = 60 * 1024 * 1024;
    expect(await headersOnly(base, "/proxy/model/v1/responses", {}, bigBody)).toBe(401);
    expect(
      await headersOnly(
        base,
        "/proxy/model/v1/responses",
        { authorization: "Bearer tdm_not-a-sandbox-token" },
        bigBody,
      ),
    ).toBe(401);
    const { token } = await newSession();
    expect(
      await headersOnly(
        base,
        "/proxy/model/v1/files",
        { authorization: `Bearer ${token}` },
        bigBody,
      ),
    ).toBe(404);
    expect(upstream.requests.length).toBe(before);
  });

  it("never logs the upstream key or a sandbox token", () => {
    const all = logs.lines.join("");
    expect(all).toContain("model_proxy"); // the capture works
    expect(all).not.toContain(UPSTREAM_KEY);
    for (const token of tokens) expect(all).not.toContain(token);
  });
});
