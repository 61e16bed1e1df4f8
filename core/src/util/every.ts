/**
 * Runs `task` every `ms`, skipping a round while the last one is still running, without keeping
 * the process alive; a failure goes to `onError` and the next round runs as usual. Returns stop.
 */
export function every(
  ms: number,
  task: () => Promise<unknown>,
  onError: (err: unknown) => void,
): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch(onError)
      .finally(() => {
        running = false;
      });
  }, ms);
  timer.unref();
  return () => clearInterval(timer);
}
