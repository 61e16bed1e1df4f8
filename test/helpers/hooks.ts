import { afterAll, beforeAll } from "vitest";

/**
 * Starts what the file's tests share in beforeAll and closes it in afterAll. The stand-in it
 * returns reads through to what started, so tests and hooks use it; while the file is being
 * collected there is nothing to read yet.
 */
export function startedBeforeAll<T extends { close(): Promise<void> }>(
  start: () => Promise<T>,
  timeoutMs?: number,
): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  }, timeoutMs);
  afterAll(async () => {
    await started?.close();
  });
  return new Proxy({} as T, {
    get(_target, key) {
      if (!started) throw new Error(`${String(key)} is read before beforeAll started it`);
      return Reflect.get(started, key);
    },
  });
}
