import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvent } from "@tandem/core";
import { apiClient, buildTestApp, ownerToken, type ApiClient } from "./helpers/api.ts";
import { DB_KINDS, startTestRuntime, type TestRuntime } from "./helpers/runtime.ts";
import { openSse } from "./helpers/sse.ts";

describe.each(DB_KINDS)("session events over SSE on %s", (kind) => {
  let rt: TestRuntime;
  let app: FastifyInstance;
  let owner: ApiClient;
  let base: string;
  beforeAll(async () => {
    rt = await startTestRuntime(kind);
    app = await buildTestApp(rt);
    base = await app.listen({ port: 0, host: "127.0.0.1" });
    owner = apiClient(app, await ownerToken(rt));
    await owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
    });
  });
  afterAll(async () => {
    await app?.close();
    await rt?.close();
  });

  const auth = () => ({ authorization: `Bearer ${owner.token}` });

  it("replays the log, streams live events, and resumes after Last-Event-ID without repeats", async () => {
    const { body } = await owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "Add a README",
    });
    const url = `${base}/api/sessions/${body.id}/events`;

    const first = await openSse(url, auth());
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/event-stream/);
    const replayed = await first.waitFor(2);
    expect(replayed).toEqual([
      {
        id: "1",
        data: expect.objectContaining({
          seq: 1,
          type: "message",
          role: "user",
          text: "Add a README",
        }),
      },
      { id: "2", data: expect.objectContaining({ seq: 2, type: "status", status: "queued" }) },
    ]);

    // Live: events appended by another component reach the open stream in order.
    const deps = { db: rt.database.db, bus: rt.bus, logger: rt.logger };
    await appendEvent(deps, body.id, {
      type: "command",
      command: "ls",
      output: "README.md\n",
      exitCode: 0,
    });
    await appendEvent(deps, body.id, { type: "message", role: "assistant", text: "Done." });
    const live = await first.waitFor(4);
    expect(live.slice(2).map((f) => [f.id, f.data.type])).toEqual([
      ["3", "command"],
      ["4", "message"],
    ]);
    await first.close();

    // Events written while nobody listens are replayed from Last-Event-ID, and only those.
    await appendEvent(deps, body.id, { type: "file_change", path: "README.md", kind: "add" });
    const resumed = await openSse(url, { ...auth(), "last-event-id": "4" });
    const frames = await resumed.waitFor(1);
    await owner.request("POST", `/api/sessions/${body.id}/stop`);
    const after = await resumed.waitFor(2);
    await new Promise((r) => setTimeout(r, 200));
    await resumed.close();
    expect(frames[0]).toEqual({
      id: "5",
      data: expect.objectContaining({ type: "file_change", path: "README.md", kind: "add" }),
    });
    expect(after[1]).toEqual({
      id: "6",
      data: expect.objectContaining({ type: "status", status: "stopped" }),
    });
    expect(resumed.frames.map((f) => f.id)).toEqual(["5", "6"]);
  });

  it("accepts the resume point as ?lastEventId= (EventSource's first connect) and rejects a bad one", async () => {
    const { body } = await owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "x",
    });
    const stream = await openSse(`${base}/api/sessions/${body.id}/events?lastEventId=1`, auth());
    expect((await stream.waitFor(1))[0]!.id).toBe("2");
    await stream.close();
    const bad = await fetch(`${base}/api/sessions/${body.id}/events`, {
      headers: { ...auth(), "last-event-id": "abc" },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(
      /Last-Event-ID must be a non-negative integer/,
    );
  });
});
