import http from "node:http";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema } from "@tandem/core";
import { buildApp } from "@tandem/web";
import { appKeys, APP_ID, githubHeaders, WEBHOOK_SECRET } from "./helpers/github.ts";
import { headersOnly } from "./helpers/raw-http.ts";
import { startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";
import { mention, SIGNING_SECRET, slackHeaders } from "./helpers/slack.ts";

const MB = 1024 * 1024;

/** Streams `sizeBytes` of body without a content-length (chunked), as a sender that lies about nothing. */
function postChunked(
  base: string,
  path: string,
  headers: Record<string, string>,
  sizeBytes: number,
) {
  const url = new URL(base);
  return new Promise<number>((resolve, reject) => {
    const req = http.request(
      { hostname: url.hostname, port: url.port, path, method: "POST", headers },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
      },
    );
    req.on("error", reject);
    const chunk = Buffer.alloc(MB, "a");
    let sent = 0;
    const pump = () => {
      while (sent < sizeBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

describe("webhooks: the signature is checked on the raw body, and bodies are bounded", () => {
  let rt: TestRuntime;
  let app: FastifyInstance;
  let base: string;
  const inboxSize = async () => (await rt.database.db.select().from(schema.inboundEvents)).length;

  beforeAll(async () => {
    rt = await startTestRuntime("postgres", {
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: "xoxb-test-token",
      SLACK_API_URL: "http://127.0.0.1:9/api/",
      GITHUB_APP_ID: APP_ID,
      GITHUB_PRIVATE_KEY: appKeys().privateKey,
      GITHUB_WEBHOOK_SECRET: WEBHOOK_SECRET,
      GITHUB_API_URL: "http://127.0.0.1:9",
    });
    app = await buildApp(rt);
    base = await app.listen({ port: 0, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
  });

  it("Slack: a signed body over 1 MB is 413 and stored nowhere; one under it is taken", async () => {
    const before = await inboxSize();
    const big = JSON.stringify(mention({ teamId: "T1", channel: "C1", text: "x".repeat(MB + 16) }));
    const tooBig = await fetch(`${base}/hooks/slack/events`, {
      method: "POST",
      body: big,
      headers: slackHeaders(big),
    });
    expect(tooBig.status).toBe(413);
    expect((await tooBig.json()).error.code).toBe("payload_too_large");
    // Announced too big: answered at once, without waiting for (or buffering) the body.
    expect(await headersOnly(base, "/hooks/slack/events", slackHeaders(""), 60 * MB)).toBe(413);
    expect(await inboxSize()).toBe(before);

    const fine = JSON.stringify(
      mention({ teamId: "T1", channel: "C1", text: `<@U1> ${"y".repeat(MB - 4096)}` }),
    );
    expect(
      (
        await fetch(`${base}/hooks/slack/events`, {
          method: "POST",
          body: fine,
          headers: slackHeaders(fine),
        })
      ).status,
    ).toBe(200);
    expect(await inboxSize()).toBe(before + 1);
  });

  it("Slack: a bad signature is 401 before the body is parsed, and nothing is stored", async () => {
    const before = await inboxSize();
    const body = JSON.stringify(mention({ teamId: "T1", channel: "C2", text: "<@U1> forged" }));
    for (const [raw, headers] of [
      [body, slackHeaders(body, { secret: "not-the-secret" })],
      ["{not json", slackHeaders("{not json", { secret: "not-the-secret" })],
      [body, { "content-type": "application/json" }],
    ] as const) {
      const res = await fetch(`${base}/hooks/slack/events`, { method: "POST", body: raw, headers });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe("bad_signature");
    }
    // Signed but unreadable: only now is it parsed.
    expect(
      (
        await fetch(`${base}/hooks/slack/events`, {
          method: "POST",
          body: "{not json",
          headers: slackHeaders("{not json"),
        })
      ).status,
    ).toBe(400);
    expect(await inboxSize()).toBe(before);
  });

  it("GitHub: a body over 25 MB is 413, announced or streamed, and nothing is stored", async () => {
    const before = await inboxSize();
    const headers = githubHeaders("issue_comment", "");
    expect(await headersOnly(base, "/hooks/github", headers, 25 * MB + 1)).toBe(413);
    const { "x-hub-signature-256": _sig, ...unsigned } = headers;
    expect(
      await postChunked(
        base,
        "/hooks/github",
        { ...unsigned, "x-hub-signature-256": "sha256=00" },
        26 * MB,
      ),
    ).toBe(413);
    expect(await inboxSize()).toBe(before);
  });

  it("GitHub: a bad signature is 401 before the body is parsed, and nothing is stored", async () => {
    const before = await inboxSize();
    const payload = JSON.stringify({
      action: "created",
      comment: { body: "@tandem-test[bot] hi" },
    });
    for (const raw of [payload, "{not json"]) {
      const res = await fetch(`${base}/hooks/github`, {
        method: "POST",
        body: raw,
        headers: githubHeaders("issue_comment", raw, { secret: "not-the-secret" }),
      });
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe("bad_signature");
    }
    const signedGarbage = await fetch(`${base}/hooks/github`, {
      method: "POST",
      body: "{not json",
      headers: githubHeaders("issue_comment", "{not json"),
    });
    expect(signedGarbage.status).toBe(400);
    expect(await inboxSize()).toBe(before);
  });
});
