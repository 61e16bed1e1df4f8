import { describe, expect, it } from "vitest";
import { splitMessage, statusMessage, summaryMessages } from "../bot/src/discord/messages.ts";
import { asksToStop, cleanText, threadName, toTrigger } from "../bot/src/discord/trigger-source.ts";
import type { SessionStatusView } from "@tandem/core";

const fences = (part: string) => (part.match(/^\s*```/gm) ?? []).length;

describe("Discord messages", () => {
  it("splits long text at Discord's 2,000 characters, at line ends", () => {
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} of a long answer`);
    const parts = splitMessage(lines.join("\n"));
    expect(parts.length).toBeGreaterThan(2);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(2000);
    expect(parts.join("\n")).toBe(lines.join("\n"));
  });

  it("never leaves a code block open: a block cut in two is closed and reopened with its language", () => {
    const code = Array.from(
      { length: 150 },
      (_, i) => `const value${i} = compute(${i}); // padding`,
    );
    const text = `Here is the fix:\n\n\`\`\`ts\n${code.join("\n")}\n\`\`\`\n\nThat is all.`;
    const parts = splitMessage(text);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect(fences(p) % 2).toBe(0); // every part opens and closes its blocks
    }
    expect(parts[1]!.startsWith("```ts\n")).toBe(true);
    // Put back together without the added markers, it is the text.
    expect(parts.join("\n").replace(/\n```\n```ts\n/g, "\n")).toBe(text);
  });

  it("cuts a line longer than a whole message, inside a block too", () => {
    const text = "```\n" + "x".repeat(4500) + "\n```";
    const parts = splitMessage(text);
    expect(parts.length).toBe(3);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect(fences(p)).toBe(2);
    }
    expect(parts.map((p) => p.replace(/^```\n|\n```$/g, "")).join("")).toBe("x".repeat(4500));
  });

  it("the status message carries the View session link, and Stop only while it can stop", () => {
    const view = {
      sessionId: "5f0c6a4e-8d2b-4b7e-9a51-0c7d2e4f1a2b",
      url: "http://tandem.test/sessions/5f0c",
      status: "running",
      repository: "acme/app",
      queuePosition: null,
      elapsedMs: 65_000,
      error: null,
      branch: null,
      pullRequestUrl: null,
      plan: null,
      steps: [],
      latest: { type: "command", command: "npm test", exitCode: null, output: "" },
    } as unknown as SessionStatusView;
    const running = statusMessage(view);
    expect(running.content).toContain("Working");
    expect(running.content).toContain("1m 05s");
    expect(running.content).toContain("`npm test`");
    const json = JSON.stringify(running.components);
    expect(json).toContain('"url":"http://tandem.test/sessions/5f0c"');
    expect(json).toContain(`tandem:stop:${view.sessionId}`);
    const stopped = statusMessage({ ...view, status: "stopped" });
    expect(stopped.content).toContain("Stopped");
    expect(JSON.stringify(stopped.components)).not.toContain("tandem:stop:");
  });

  it("a long summary is several messages; the last has the files, the pull request and the link", () => {
    const said = Array.from(
      { length: 120 },
      (_, i) => `Paragraph ${i}: I looked at the code.`,
    ).join("\n\n");
    const parts = summaryMessages(
      {
        failed: false,
        said,
        files: [{ path: "src/a.ts", added: 3, removed: 1 }],
        problems: [],
      } as never,
      { url: "http://tandem.test/s/1", sessionId: "s1", pullRequestUrl: "http://git.test/pr/7" },
    );
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.content.length).toBeLessThanOrEqual(2000);
    const last = parts.at(-1)!;
    expect(last.content).toContain("1 file changed** (+3 −1)");
    expect(last.content).toContain("Pull request: http://git.test/pr/7");
    expect(last.content).toContain("[View session](<http://tandem.test/s/1>)");
    expect(parts.every((p) => p.allowed_mentions.parse.length === 0)).toBe(true);
  });
});

describe("Discord triggers", () => {
  const BOT = "1100000000000000001";
  const message = (extra: Record<string, unknown>) => ({
    source: "gateway",
    botUserId: BOT,
    message: {
      id: "1200000000000000001",
      guild_id: "1300000000000000001",
      channel_id: "1400000000000000001",
      type: 0,
      author: { id: "1500000000000000001", username: "ada" },
      member: { roles: ["1600000000000000001"], nick: "Ada" },
      content: `<@${BOT}> fix the login test`,
      mentions: [{ id: BOT }],
      ...extra,
    },
  });

  it("a mention is a message trigger with the words and the member's roles", () => {
    expect(toTrigger(message({}))).toMatchObject({
      type: "message",
      mentionsBot: true,
      text: "fix the login test",
      author: { id: "1500000000000000001", name: "Ada", roles: ["1600000000000000001"] },
    });
    expect(toTrigger(message({ content: "just talk", mentions: [] }))).toMatchObject({
      mentionsBot: false,
    });
  });

  it("bots, the bot itself, webhooks, direct messages and system messages are ignored", () => {
    expect(toTrigger(message({ author: { id: "9", bot: true } })).type).toBe("ignore");
    expect(toTrigger(message({ author: { id: BOT } })).type).toBe("ignore");
    expect(toTrigger(message({ webhook_id: "77" })).type).toBe("ignore");
    expect(toTrigger(message({ guild_id: undefined })).type).toBe("ignore");
    expect(toTrigger(message({ type: 18 })).type).toBe("ignore");
  });

  it("reads /tandem's options at the top level or under a subcommand", () => {
    const interaction = (options: unknown[]) => ({
      source: "interaction",
      interaction: {
        id: "1",
        type: 2,
        token: "tok",
        guild_id: "2",
        channel_id: "3",
        member: { user: { id: "4", username: "ada" }, roles: [], permissions: "8" },
        data: { name: "tandem", options },
      },
    });
    expect(
      toTrigger(
        interaction([
          { name: "prompt", type: 3, value: " fix it " },
          { name: "repo", type: 3, value: "acme/app" },
        ]),
      ),
    ).toMatchObject({
      type: "command",
      prompt: "fix it",
      repo: "acme/app",
      user: { permissions: 8n },
    });
    expect(
      toTrigger(
        interaction([{ name: "run", type: 1, options: [{ name: "prompt", value: "go" }] }]),
      ),
    ).toMatchObject({ type: "command", prompt: "go" });
  });

  it("words: stop, the bot's mention out, thread names", () => {
    expect(asksToStop("stop")).toBe(true);
    expect(asksToStop("Stop!")).toBe(true);
    expect(asksToStop("don't stop the build")).toBe(false);
    expect(cleanText(`<@${BOT}>  look at <https://x.test/a>`, BOT)).toBe(
      "look at https://x.test/a",
    );
    expect(threadName(`<@${BOT}> fix the flaky test\nmore`)).toBe("fix the flaky test");
    expect(threadName("a".repeat(300)).length).toBe(90);
  });
});
