/**
 * `work`'s result, or a rejection with `message` once `ms` have passed, whichever comes first.
 * The timer is cleared either way, so nothing outlives the race (a pending timer would hold a
 * process open and fire into nothing).
 */
export async function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  message = `timed out after ${ms} ms`,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
