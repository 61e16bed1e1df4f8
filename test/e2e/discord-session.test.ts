import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sessionUrl } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import { startDiscordStack, type DiscordStack } from "../helpers/discord-stack.ts";
import { dockerModelEnv, sandboxOf, waitForStatus } from "../helpers/e2e.ts";
import { until } from "../helpers/stack.ts";

const SUMMARY = "I updated hello.txt to greet the world.";
const skip = !dockerAvailable();

describe("Discord end to end: a mention runs the real agent in a Docker sandbox", () => {
  let model: ModelServer;
  let d: DiscordStack;

  beforeAll(async () => {
    if (skip) return;
    model = await new ModelServer([
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: SUMMARY },
    ]).listen();
    d = await startDiscordStack({ env: dockerModelEnv(model), realAgent: true });
  }, 120_000);
  afterAll(async () => {
    await d?.close();
    await model?.close();
  });

  it.skipIf(skip)(
    "a mention → a thread with the status message and the View session link → the summary there, with the diff stats",
    async () => {
      const m = d.mention(d.channelId, "say hello to the world in hello.txt");
      const session = await d.sessionOf(m.id);
      const url = sessionUrl(d.stack.rt.config.PUBLIC_URL, session.id);
      expect(d.fake.threads.find((t) => t.id === m.id)?.parentId).toBe(d.channelId);
      // The status message is in the thread at once, with the link, before the agent has done anything.
      await until("the status message", async () => d.botMessages(m.id).length > 0, 15_000);
      const [status] = d.botMessages(m.id);
      expect(JSON.stringify(status!.components)).toContain(url);

      await waitForStatus(d.stack, session.id, "idle", 150_000);
      await until(
        "the summary in the thread",
        async () => d.botMessages(m.id).some((x) => x.content.includes(SUMMARY)),
        20_000,
      );
      const summary = d.botMessages(m.id).find((x) => x.content.includes(SUMMARY))!;
      expect(summary.content).toContain("**1 file changed** (+1 −1)");
      expect(summary.content).toContain("`hello.txt` +1 −1");
      expect(summary.content).toContain(`[View session](<${url}>)`);
      expect(JSON.stringify(summary.components)).toContain(url);
      // One status message, edited in place to the end of the turn.
      const statuses = d
        .botMessages(m.id)
        .filter((x) => JSON.stringify(x.components).includes("tandem:stop:"));
      expect(statuses).toHaveLength(1);
      await until(
        "the status message at the end of the turn",
        async () => d.fake.message(statuses[0]!.id)!.current.content.includes("Waiting for you"),
        10_000,
      );

      // The real agent really changed the file, in a Docker sandbox.
      expect((await sandboxOf(d.stack, session.id))?.provider).toBe("docker");
      const changes = await d.stack.owner.request("GET", `/api/sessions/${session.id}/changes`);
      const hello = changes.body.files.find((f: { path: string }) => f.path === "hello.txt");
      expect(hello).toMatchObject({ status: "modified", added: 1, removed: 1 });
    },
    300_000,
  );
});
