import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getSessionOrThrow, issueSandboxToken, type Logger } from "@tandem/core";
import { buildApp } from "@tandem/web";
import { apiClient, ownerToken, type ApiClient } from "./helpers/api.ts";
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
const sse = (event: object) => `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`;

/**
 * A Responses API stand-in that insists on the real key: `/v1/responses` streams SSE in pauses
 * and ends with usage 11/7, `/v1/json` answers JSON with usage 5/3, `/v1/echo` returns the body.
 */
async function startFakeUpstream() {
  const requests: UpstreamRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rec: UpstreamRequest = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks), startedAt: Date.now() };
    requests.push(rec);
    res.on("close", () => { if (!res.writableFinished) rec.aborted = true; });
    if (req.headers.authorization !== `Bearer ${UPSTREAM_KEY}`) {
      res.writeHead(401, { "content-type": "application/json" });
      return res.end(JSON.stringify({ error: { message: "bad key" } }));
    }
    const path = req.url!.split("?")[0];
    if (path === "/v1/echo") {
      res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/octet-stream" });
      return res.end(rec.body);
    }
    if (path === "/v1/json" || path === "/v1") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ id: "resp_json", usage: { input_tokens: 5, output_tokens: 3, total_tokens: 8 } }));
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
    res.write(sse({ type: "response.completed", response: { id: "resp_1", status: "completed", usage: { input_tokens: 11, output_tokens: 7, total_tokens: 18 } } }));
    rec.finishedAt = Date.now();
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    requests,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** A logger that keeps every line, to prove secrets never reach the log. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
  return { lines, logger: logger as unknown as Logger };
}

/** Sends a request exactly as written, path included (fetch would resolve `..` itself). */
function rawRequest(base: string, path: string, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const url = new URL(base);
    http.request({ hostname: url.hostname, port: url.port, path, method: "GET", headers }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    }).on("error", reject).end();
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
    const created = await owner.request("POST", "/api/sessions", { repository: "acme/app", prompt: "hi" });
    expect(created.status).toBe(201);
    const token = await issueSandboxToken(rt.database.db, created.body.id);
    tokens.push(token);
    return { id: created.body.id as string, token };
  };
  const proxy = (token: string, path: string, init: RequestInit = {}) =>
    fetch(`${base}/proxy/model/v1${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as object) } });
  const usageOf = async (id: string) => {
    const s = await getSessionOrThrow(rt.database.db, rt.defaultOrgId, id);
    return [s.inputTokens, s.outputTokens];
  };

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    rt = await startTestRuntime(kind, { MODEL_UPSTREAM_URL: upstream.url, MODEL_UPSTREAM_API_KEY: UPSTREAM_KEY });
    logs = capturingLogger();
    app = await buildApp({ ...rt, logger: logs.logger });
    base = await app.listen({ port: 0, host: "127.0.0.1" });
    owner = apiClient(app, await ownerToken(rt));
    expect((await owner.request("POST", "/api/repositories", { name: "acme/app", cloneUrl: "https://git.example.test/acme/app.git" })).status).toBe(201);
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
      method: "POST", body, headers: { "content-type": "application/json", "openai-beta": "responses=v1", cookie: "tandem_session=nope" },
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

  it("passes any content type through byte for byte, and reaches the base path itself", async () => {
    const { token } = await newSession();
    const bytes = randomBytes(4096);
    const res = await proxy(token, "/echo", { method: "PUT", body: bytes, headers: { "content-type": "application/octet-stream" } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    const root = await proxy(token, "");
    expect(root.status).toBe(200);
    expect(upstream.requests.at(-1)!.url).toBe("/v1");
  });

  it("streams the reply unbuffered: the first event arrives long before the upstream finishes", async () => {
    const { token } = await newSession();
    const sentAt = Date.now();
    const res = await proxy(token, "/responses", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    const arrivals: Array<{ at: number; text: string }> = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body!) arrivals.push({ at: Date.now(), text: decoder.decode(chunk as Uint8Array) });
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
      const res = await proxy(token, "/responses", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
      await res.text();
    }
    expect(await usageOf(id)).toEqual([22, 14]);
    const json = await proxy(token, "/json", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(await json.json()).toMatchObject({ usage: { input_tokens: 5 } });
    expect(await usageOf(id)).toEqual([27, 17]);
  });

  it("aborts the upstream when the client goes away", async () => {
    const { token } = await newSession();
    const controller = new AbortController();
    const res = await proxy(token, "/responses?long=1", { method: "POST", body: "{}", headers: { "content-type": "application/json" }, signal: controller.signal });
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
    expect((await proxy(token, "/json", { method: "POST", body: "{}" })).status).toBe(200);
    expect((await owner.request("POST", `/api/sessions/${id}/stop`)).status).toBe(200);
    const before = upstream.requests.length;
    const res = await proxy(token, "/responses", { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "unauthorized", message: "sandbox token unknown, or its session has ended" } });
    expect(upstream.requests.length).toBe(before);
  });

  it("refuses user API tokens, unknown tokens and no token; sandbox tokens do not open /api", async () => {
    const before = upstream.requests.length;
    const attempts: Array<Record<string, string>> = [{ authorization: `Bearer ${owner.token}` }, { authorization: "Bearer tdm_not-a-sandbox-token" }, {}];
    for (const headers of attempts) {
      const res = await fetch(`${base}/proxy/model/v1/models`, { headers });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe("unauthorized");
    }
    expect(upstream.requests.length).toBe(before);
    // …and a sandbox token is no user token either.
    const { token } = await newSession();
    expect((await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it("does not follow dot segments or encoded slashes out of the prefix", async () => {
    const { token } = await newSession();
    const before = upstream.requests.length;
    for (const path of ["/proxy/model/v1/../../api/me", "/proxy/model/v1/%2e%2e/secrets", "/proxy/model/v1/a%2f..%2fb", "/proxy/model/v1/./models"]) {
      expect(await rawRequest(base, path, { authorization: `Bearer ${token}` }), path).toBe(400);
    }
    expect(upstream.requests.length).toBe(before);
  });

  it("answers 502 when the upstream is down, and logs it with the session id but never the key", async () => {
    const { id, token } = await newSession();
    const dead = await startFakeUpstream();
    await dead.close();
    const deadLogs = capturingLogger();
    const deadApp = await buildApp({ ...rt, logger: deadLogs.logger, config: { ...rt.config, MODEL_UPSTREAM_URL: dead.url } });
    try {
      const deadBase = await deadApp.listen({ port: 0, host: "127.0.0.1" });
      const res = await fetch(`${deadBase}/proxy/model/v1/responses`, { method: "POST", body: "{}", headers: { authorization: `Bearer ${token}` } });
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

  it("never logs the upstream key or a sandbox token", () => {
    const all = logs.lines.join("");
    expect(all).toContain("model_proxy"); // the capture works
    expect(all).not.toContain(UPSTREAM_KEY);
    for (const token of tokens) expect(all).not.toContain(token);
  });
});
