import { describe, expect, it } from "vitest";
import { namedRepositories } from "@tandem/core";
import { takeProfile } from "@tandem/core";
import { cleanText, buildPrompt } from "../bot/src/slack/start.ts";
import { describeStep } from "../bot/src/slack/snapshot.ts";
import { deliveryIdFor, toTrigger } from "../bot/src/slack/trigger-source.ts";
import { parseNumstat } from "../worker/src/sessions/diff-stat.ts";

const envelope = (event: Record<string, unknown>) => ({
  type: "event_callback",
  team_id: "T1",
  event_id: "Ev1",
  event: { ts: "1.1", channel: "C1", ...event },
});

describe("Slack parsing", () => {
  it("finds owner/repo names and GitHub links, not paths or prose", () => {
    expect(namedRepositories("fix the login in acme/app please")).toEqual(["acme/app"]);
    expect(namedRepositories("see <https://github.com/acme/api/pull/3|PR 3>")).toEqual([
      "acme/api",
    ]);
    expect(namedRepositories("`acme/web`, then Acme/App.")).toEqual(["acme/web", "Acme/App"]);
    expect(namedRepositories("nothing to see here")).toEqual([]);
  });

  it("takes profile:<name> out of a request, anywhere in it; words that merely contain it stay", () => {
    expect(takeProfile("profile:node fix the tests")).toEqual({
      profile: "node",
      text: "fix the tests",
    });
    expect(takeProfile("fix the tests profile:py-3.12 in acme/app")).toEqual({
      profile: "py-3.12",
      text: "fix the tests in acme/app",
    });
    expect(takeProfile("fix my-profile:thing")).toEqual({ text: "fix my-profile:thing" });
    expect(takeProfile("no profile here")).toEqual({ text: "no profile here" });
  });

  it("makes Slack markup plain and puts the thread after the request", () => {
    expect(
      cleanText(
        "<@UBOT> open <https://x.test/a|the page> in <#C1|general> &amp; ask <@U2>",
        "UBOT",
      ),
    ).toBe("open https://x.test/a in #general & ask <@U2>");
    expect(buildPrompt("fix it", ["Bob (<@U1>): it is broken"])).toBe(
      "fix it\n\n---\nEarlier messages in the Slack thread, oldest first:\n- Bob (<@U1>): it is broken",
    );
  });

  it("turns deliveries into triggers, ignoring bots, edits and channel chatter", () => {
    expect(
      toTrigger(envelope({ type: "app_mention", user: "U1", text: "<@UBOT> hi" })),
    ).toMatchObject({ type: "message", mention: true, isDm: false });
    expect(
      toTrigger(
        envelope({ type: "message", user: "U1", text: "hi", channel_type: "im", channel: "D1" }),
      ),
    ).toMatchObject({ type: "message", isDm: true });
    expect(
      toTrigger(envelope({ type: "message", user: "U1", text: "reply", thread_ts: "1.0" })),
    ).toMatchObject({ type: "message", threadTs: "1.0" });
    expect(toTrigger(envelope({ type: "message", user: "U1", text: "chatter" })).type).toBe(
      "ignore",
    );
    expect(
      toTrigger(
        envelope({
          type: "message",
          bot_id: "B1",
          subtype: "bot_message",
          text: "beep",
          thread_ts: "1.0",
        }),
      ).type,
    ).toBe("ignore");
    // SLACK_ALLOW_BOTS=true: another bot counts, as its bot id when it has no user id.
    expect(
      toTrigger(
        envelope({
          type: "message",
          bot_id: "B1",
          subtype: "bot_message",
          text: "beep",
          thread_ts: "1.0",
        }),
        { allowBots: true },
      ),
    ).toMatchObject({ type: "message", user: "B1", text: "beep" });
    expect(
      toTrigger(
        envelope({ type: "message", bot_id: "B2", user: "U2", text: "hi", thread_ts: "1.0" }),
        { allowBots: true },
      ),
    ).toMatchObject({ type: "message", user: "U2" });
    expect(
      toTrigger(
        envelope({ type: "message", user: "U1", subtype: "message_changed", thread_ts: "1.0" }),
      ).type,
    ).toBe("ignore");
    expect(toTrigger(envelope({ type: "reaction_added", user: "U1" })).type).toBe("ignore");
    expect(deliveryIdFor(envelope({}))).toBe("Ev1");
    expect(deliveryIdFor({ command: "/tandem", trigger_id: "1.2.3" })).toBe("command-1.2.3");
    expect(deliveryIdFor({ type: "block_actions", trigger_id: "4.5.6" })).toBe(
      "block_actions-4.5.6",
    );
  });

  it("describes agent steps for the status message", () => {
    expect(describeStep({ type: "command", command: "bash -lc 'npm test'" })).toBe("`npm test`");
    expect(describeStep({ type: "file_change", path: "src/a.ts", kind: "add" })).toBe(
      "created `src/a.ts`",
    );
    expect(
      describeStep({
        type: "plan",
        steps: [
          { text: "read", done: true },
          { text: "fix", done: false },
        ],
      }),
    ).toBe("plan step 2/2: fix");
  });

  it("reads git diff --numstat, binary files included", () => {
    expect(parseNumstat("1\t1\thello.txt\n12\t0\tsrc/new file.ts\n-\t-\tlogo.png\n")).toEqual([
      { path: "hello.txt", added: 1, removed: 1 },
      { path: "src/new file.ts", added: 12, removed: 0 },
      { path: "logo.png", added: 0, removed: 0 },
    ]);
  });
});
