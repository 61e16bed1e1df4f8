// Tandem's gateway forwarder: runs inside every gateway sandbox (started by its PID 1 from the
// read-only mount /run/tandem). The sandbox has no network; this listens on 127.0.0.1 and carries
// each connection over one of the gateway's unix sockets: the egress proxy's after one line
// naming the sandbox token (`TANDEM/1 proxy <token>\n`), the control plane's as it is (its routes
// check the token on each request). It holds no secret of its own and is no boundary: the
// gateway checks every connection. Arguments: the services to carry (`proxy`, `control`); PID 1
// leaves `control` to socat where the image has it.
import { readFileSync } from "node:fs";
import net from "node:net";

const dir = (name) => new URL(`./${name}`, import.meta.url).pathname;
const TOKEN_FILE = process.env.TANDEM_TOKEN_FILE || "/home/agent/.tandem/token";
const SERVICES = {
  proxy: { port: 3128, socket: dir("gateway.sock"), preamble: () => `TANDEM/1 proxy ${token()}\n` },
  control: { port: 3129, socket: dir("control.sock"), preamble: () => "" },
};

/** Read per connection: the token is written after the sandbox starts, and replaced on a restart. */
function token() {
  try {
    return readFileSync(TOKEN_FILE, "utf8").trim() || "-";
  } catch {
    return "-";
  }
}

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SERVICES);
for (const name of wanted) {
  const service = SERVICES[name];
  if (!service) {
    process.stderr.write(`tandem forwarder: unknown service ${name}\n`);
    process.exitCode = 1;
    continue;
  }
  // No Nagle: a response written in pieces would otherwise wait for delayed ACKs (40 ms each).
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect(service.socket);
    const preamble = service.preamble();
    if (preamble) upstream.write(preamble);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
  server.on("error", (err) => {
    process.stderr.write(
      `tandem forwarder: ${name} on 127.0.0.1:${service.port}: ${err.message}\n`,
    );
    process.exitCode = 1;
  });
  server.listen(service.port, "127.0.0.1");
}
