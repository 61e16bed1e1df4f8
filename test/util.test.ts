import { afterEach, describe, expect, it, vi } from "vitest";
import { gitFailure, withTimeout } from "@tandem/core";

describe("withTimeout", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives the work's result and leaves no timer behind", async () => {
    vi.useFakeTimers();
    await expect(withTimeout(Promise.resolve(42), 1_000)).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("passes the work's own failure on, and leaves no timer behind", async () => {
    vi.useFakeTimers();
    await expect(withTimeout(Promise.reject(new Error("refused")), 1_000)).rejects.toThrow(
      "refused",
    );
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects with the message once the time is up, while the work still runs", async () => {
    vi.useFakeTimers();
    const never = new Promise<never>(() => {});
    const raced = withTimeout(never, 2_000, "the inbox did not commit in time");
    const settled = expect(raced).rejects.toThrow("the inbox did not commit in time");
    await vi.advanceTimersByTimeAsync(1_999);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await settled;
    expect(vi.getTimerCount()).toBe(0);
    const defaulted = expect(withTimeout(never, 5)).rejects.toThrow("timed out after 5 ms");
    await vi.advanceTimersByTimeAsync(5);
    await defaulted;
  });
});

describe("gitFailure", () => {
  it("keeps all of what git said but its progress lines, so the reason is never cut to the last line", () => {
    const stderr = [
      "Cloning into '/workspace/app'...",
      "remote: Enumerating objects: 3, done.",
      "remote: Counting objects: 100% (3/3), done.",
      "fatal: unable to access 'https://git.example.test/acme/app.git/': Could not resolve host: git.example.test",
      "hint: check the remote's URL",
      "",
    ].join("\n");
    expect(gitFailure(stderr)).toBe(
      "fatal: unable to access 'https://git.example.test/acme/app.git/': Could not resolve host: git.example.test\nhint: check the remote's URL",
    );
    expect(gitFailure("")).toBe("git said nothing");
    const long = gitFailure(`fatal: ${"x".repeat(5_000)}`);
    expect(long.length).toBe(2_000);
    expect(long.startsWith("…")).toBe(true);
  });
});
