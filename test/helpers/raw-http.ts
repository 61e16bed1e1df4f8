import net from "node:net";

/**
 * Sends a request's headers announcing a body of `contentLength` bytes, then only a few of them,
 * and resolves with the status line's code: an answer proves the server did not wait for the body.
 */
export function headersOnly(
  base: string,
  path: string,
  headers: Record<string, string>,
  contentLength: number,
) {
  const url = new URL(base);
  return new Promise<number>((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${path} within 5 s`));
    }, 5_000);
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      const match = head.match(/^HTTP\/1\.1 (\d{3})/);
      if (!match) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(Number(match[1]));
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const lines = Object.entries({
      host: url.host,
      "content-type": "application/json",
      ...headers,
      "content-length": String(contentLength),
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n{"input":`,
    );
  });
}
