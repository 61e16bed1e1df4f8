import type { FakeDiscordMessage } from "../fixtures/fake-discord.ts";
import { BOT_USER_ID, postInteraction, slashCommand, snowflake } from "../helpers/discord.ts";
import { startDiscordStack } from "../helpers/discord-stack.ts";
import { providerContract, type ContractThread } from "./contract.ts";

providerContract("Discord", async () => {
  const d = await startDiscordStack();
  const { fake, stack, guild } = d;

  const thread = (): ContractThread => {
    // A thread is opened on the mention that starts it: its id is the mention's, known ahead.
    const id = snowflake();
    let root: FakeDiscordMessage | null = null;
    const threadId = () => id;
    const status = () =>
      d
        .botMessages(threadId())
        .filter((m) => JSON.stringify(m.components).includes("tandem:stop:"));
    return {
      get key() {
        return `${guild.id}/${threadId()}`;
      },
      async start(words, delivery) {
        if (delivery) {
          // The same MESSAGE_CREATE again, as a resumed gateway replays it.
          fake.redeliver(delivery);
          return { status: 200, delivery };
        }
        root = d.mention(d.channelId, words, undefined, id);
        return { status: 200, delivery: root.id };
      },
      followUp: async (words) => (d.say(threadId(), words), 200),
      async stop(session) {
        const message = status()[0]!;
        const res = await d.press({
          channelId: threadId(),
          messageId: message.id,
          customId: `tandem:stop:${session.id}`,
        });
        return res.status;
      },
      async fromBot(words) {
        root = fake.postMessage({
          id,
          guildId: guild.id,
          channelId: d.channelId,
          author: { id: BOT_USER_ID, username: "Tandem", bot: true },
          content: `<@${BOT_USER_ID}> ${words}`,
        });
        return 200;
      },
      async badlySigned(words) {
        const payload = slashCommand({ guildId: guild.id, channelId: d.channelId, prompt: words });
        const res = await postInteraction(stack.base, payload, { badSignature: true });
        return res.status;
      },
      calls: () => (root ? fake.calls.filter((c) => c.path.includes(root!.id)) : []),
      statusPosts: () =>
        status().map((m) => JSON.stringify({ content: m.content, components: m.components })),
      statusEdits: () =>
        status().flatMap((m) => m.edits.map((e) => `${e.content} ${JSON.stringify(e.components)}`)),
      failureReports: (reason) =>
        d
          .botMessages(threadId())
          .filter((m) => !JSON.stringify(m.components).includes("tandem:stop:"))
          .filter((m) => m.current.content.includes(reason))
          .map((m) => m.current.content),
    };
  };

  return { provider: "discord", stack, thread, close: () => d.close() };
});
