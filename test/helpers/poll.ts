/**
 * Polls `fn` every 50 ms until it returns something other than undefined (false and 0 count),
 * for records that appear within moments; stack.ts's `until` waits for a truthy value instead.
 */
export async function untilDefined<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
