// Tandem's gateway forwarder: runs inside every gateway sandbox (started by its PID 1 from the
// read-only mount /run/tandem). The sandbox has no network; this listens on 127.0.0.1 and carries
// each connection over the gateway's unix socket, after one line naming the service and the
// sandbox token: `TANDEM/1 <service> <token>\n`. It holds no secret of its own and is no
// boundary: the gateway checks every connection.
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";

const SOCKET = new URL("./gateway.sock", import.meta.url).pathname;
const TOKEN_FILE = process.env.TANDEM_TOKEN_FILE || "/home/agent/.tandem/token";
const SERVICES = { 3128: "proxy", 3129: "control" };
/**
 * Appears once every port listens: the sandbox's start waits for it before anything runs. On
 * /dev/shm, a tmpfs that each start of the container gets empty and no image commit keeps.
 */
const READY = "/dev/shm/.tandem-forwarder-ready";
let listening = 0;

/** Read per connection: the token is written after the sandbox starts, and replaced on a restart. */
function token() {
  try {
    return readFileSync(TOKEN_FILE, "utf8").trim() || "-";
  } catch {
    return "-";
  }
}

for (const [port, service] of Object.entries(SERVICES)) {
  const server = net.createServer((client) => {
    const upstream = net.connect(SOCKET);
    upstream.write(`TANDEM/1 ${service} ${token()}\n`);
    client.pipe(upstream).pipe(client);
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
  server.on("error", (err) => {
    process.stderr.write(`tandem forwarder: ${service} on 127.0.0.1:${port}: ${err.message}\n`);
    process.exitCode = 1;
  });
  server.listen(Number(port), "127.0.0.1", () => {
    if (++listening === Object.keys(SERVICES).length) writeFileSync(READY, `${process.pid}\n`);
  });
}
