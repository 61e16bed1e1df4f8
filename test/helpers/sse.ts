export interface SseFrame {
  id?: string;
  data: any;
}

/** Opens an SSE stream with fetch and hands out parsed frames as they arrive. */
export async function openSse(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const frames: SseFrame[] = [];
  let waiters: Array<() => void> = [];
  const done = (async () => {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: Partial<SseFrame> = {};
          for (const line of block.split("\n")) {
            if (line.startsWith("id: ")) frame.id = line.slice(4);
            if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6));
          }
          if (frame.data !== undefined) frames.push(frame as SseFrame);
          waiters.forEach((w) => w());
          waiters = [];
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    frames,
    /** Waits until at least `n` frames arrived (or fails after `timeoutMs`). */
    async waitFor(n: number, timeoutMs = 5_000): Promise<SseFrame[]> {
      const deadline = Date.now() + timeoutMs;
      while (frames.length < n) {
        if (Date.now() > deadline)
          throw new Error(
            `expected ${n} SSE frames, got ${frames.length}: ${JSON.stringify(frames)}`,
          );
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return frames.slice(0, n);
    },
    async close() {
      controller.abort();
      await done;
    },
  };
}
