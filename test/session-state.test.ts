import { describe, expect, it } from "vitest";
import { SESSION_STATUSES, canTransition, isTerminal } from "@tandem/core";

describe("session state machine", () => {
  it("allows exactly the documented transitions", () => {
    const allowed = SESSION_STATUSES.flatMap((from) =>
      SESSION_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed.sort()).toEqual([
      "idle→failed",
      "idle→running",
      "idle→stopped",
      "queued→failed",
      "queued→starting",
      "queued→stopped",
      "running→failed",
      "running→idle",
      "running→stopped",
      "starting→failed",
      "starting→running",
      "starting→stopped",
    ]);
    expect(SESSION_STATUSES.filter(isTerminal)).toEqual(["stopped", "failed"]);
  });
});
