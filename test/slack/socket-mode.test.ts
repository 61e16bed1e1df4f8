import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { startBot } from "@tandem/bot";
import { schema } from "@tandem/core";
import { BOT_USER_ID, TEAM_ID } from "../fixtures/fake-slack.ts";
import { mention, newTs } from "../helpers/slack.ts";
import { useSlackStack } from "../helpers/slack-stack.ts";
import { until } from "../helpers/stack.ts";

// Socket Mode: the same ingress over Slack's WebSocket, committed before it is acknowledged.
describe("Slack: mention, follow in place, continue by replying", () => {
  const slack = useSlackStack();

  it("Socket Mode: envelopes are committed before they are acknowledged, and start sessions the same way", async () => {
    const { stack, fake } = slack;
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const acks: Array<{ envelopeId: string; committed: boolean }> = [];
    const ts = newTs();
    const body = mention({
      teamId: TEAM_ID,
      channel: "C30",
      ts,
      text: `<@${BOT_USER_ID}> acme/app over the socket`,
    });
    wss.on("connection", (socket) => {
      socket.on("message", async (raw) => {
        const msg = JSON.parse(String(raw)) as { envelope_id: string };
        const inbox = await stack.rt.database.db
          .select()
          .from(schema.inboundEvents)
          .where(eq(schema.inboundEvents.deliveryId, body.event_id));
        acks.push({ envelopeId: msg.envelope_id, committed: inbox.length === 1 });
      });
      socket.send(
        JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "A0APP" } }),
      );
      socket.send(
        JSON.stringify({
          envelope_id: "env-1",
          type: "events_api",
          payload: body,
          accepts_response_payload: false,
          retry_attempt: 0,
          retry_reason: "",
        }),
      );
    });
    fake.socketUrl = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/`;
    const bot = await startBot(stack.rt, stack.rt.providers);
    try {
      expect(bot.providers).toEqual(["slack"]);
      expect(fake.callsTo("apps.connections.open").at(-1)!.token).toBe("xapp-test-token");
      await until("the ack", async () => acks.length > 0, 10_000);
      expect(acks).toEqual([{ envelopeId: "env-1", committed: true }]);
      await slack.waitSession("C30", ts);
      await slack.waitForPost("the summary", "C30", ts, "Done:");
    } finally {
      await bot.close();
      for (const client of wss.clients) client.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});
