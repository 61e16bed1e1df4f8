import path from "node:path";
import { sandboxControlUrl, type Config } from "../config.ts";

/**
 * The sandbox's side of the gateway. A gateway sandbox runs with no network (`--network none`);
 * the gateway's directory is mounted read-only at GATEWAY_MOUNT, holding its unix sockets and the
 * forwarder. The sandbox's PID 1 starts the forwarders (GATEWAY_FORWARDERS): they listen on
 * 127.0.0.1 inside the sandbox and carry each connection to the gateway, the egress proxy's
 * prefixed with the sandbox token (the proxy applies that session's policy to the connection),
 * the control plane's as they are (its routes check the token on every request).
 */
export const GATEWAY_MOUNT = "/run/tandem";
/** The egress proxy's socket: each connection starts with `TANDEM/1 proxy <token>\n`. */
export const GATEWAY_SOCKET = "gateway.sock";
/** The control plane's socket (model proxy, git remote): plain HTTP. */
export const GATEWAY_CONTROL_SOCKET = "control.sock";
export const GATEWAY_FORWARDER = "forwarder.mjs";
/** Tandem's CA certificate alone, and the public roots with it (the gateway writes both). */
export const GATEWAY_CA_CERT = "ca.pem";
export const GATEWAY_CA_BUNDLE = "ca-bundle.pem";
/** What the sandbox holds where a client wants a GitHub token: the gateway puts the real one in. */
const CREDENTIAL_PLACEHOLDER = "tandem-placeholder";
/** Inside the sandbox: the egress proxy (HTTP(S)_PROXY) and the control plane (model proxy, git). */
export const GATEWAY_PROXY_PORT = 3128;
const GATEWAY_CONTROL_PORT = 3129;

/**
 * What PID 1 of a gateway sandbox runs first. The control plane is on the path of every start
 * (the checkout fetches through it), so where the image has `socat` (tandem/sandbox does) it
 * forwards that port: it listens within a millisecond or two, where Node takes a hundred or more.
 * The Node forwarder carries the proxy, which needs the token on each connection, and the
 * control plane too on images without socat.
 */
export const GATEWAY_FORWARDERS =
  `if command -v socat >/dev/null 2>&1; then ` +
  `socat TCP-LISTEN:${GATEWAY_CONTROL_PORT},bind=127.0.0.1,reuseaddr,fork,nodelay UNIX-CONNECT:${GATEWAY_MOUNT}/${GATEWAY_CONTROL_SOCKET} </dev/null >>/tmp/.tandem-forwarder.log 2>&1 & ` +
  `set -- proxy; else set -- proxy control; fi; ` +
  `node ${GATEWAY_MOUNT}/${GATEWAY_FORWARDER} "$@" </dev/null >>/tmp/.tandem-forwarder.log 2>&1 &`;

/** `/proc/net/tcp`'s line for a socket listening on 127.0.0.1:<port> (state 0A). */
const listenLine = (port: number) =>
  `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 0A`;

/**
 * Shell that waits (up to 10 s) until the gateway's forwarders listen on these ports, and fails
 * naming the cause if they never do (an image without `node`). Nothing to wait for off the
 * gateway. The sandbox's own network namespace has only its loopback, so /proc/net/tcp lists
 * exactly the forwarders, and a restarted container starts with none.
 */
export function gatewayWait(ports: number[]): string {
  const listening = ports.map((port) => `grep -q '${listenLine(port)}' /proc/net/tcp`).join(" && ");
  return (
    `if [ -e ${GATEWAY_MOUNT}/${GATEWAY_FORWARDER} ]; then i=0; until ${listening}; do i=$((i+1)); ` +
    `if [ $i -gt 1000 ]; then echo "Tandem: the sandbox gateway's forwarder did not start (gateway sandboxes need node on PATH; build the image FROM tandem/sandbox)" >&2; exit 2; fi; sleep 0.01; done; fi`
  );
}

/**
 * A step for the first exec that needs the network, waiting for both forwarders. Run late, not
 * at start, so the forwarders' start overlaps the writes and git config before it.
 */
export const GATEWAY_WAIT_STEP = [
  "sh",
  "-c",
  gatewayWait([GATEWAY_PROXY_PORT, GATEWAY_CONTROL_PORT]),
];
/** The same for a step that needs only the control plane (a session's checkout). */
export const GATEWAY_CONTROL_WAIT_STEP = ["sh", "-c", gatewayWait([GATEWAY_CONTROL_PORT])];

/** The gateway's directory on this machine (absolute: the engine bind-mounts it). */
export const gatewayDir = (config: Pick<Config, "GATEWAY_DIR" | "DATA_DIR">) =>
  path.resolve(config.GATEWAY_DIR ?? path.join(config.DATA_DIR, "gateway"));

export interface SandboxNetwork {
  /** Docker's network mode for the container. */
  mode: string;
  /** For gateway sandboxes: what the engine mounts at GATEWAY_MOUNT (a host path, or a volume name). */
  gatewaySource?: string;
  /** The control plane as processes in the sandbox reach it. */
  controlUrl: string;
  /** The container's environment for this network: where the control plane and the proxy are. */
  env: Record<string, string>;
}

/**
 * How a sandbox is connected: through the gateway by default; on the host's network when its
 * profile version sets `hostNetwork` (allowed only with SANDBOX_ALLOW_HOST_NETWORK) or the
 * instance sets SANDBOX_NETWORK=host, and always for the local provider, whose sandboxes are
 * host processes; `none` or a Docker network name as they are.
 */
export function sandboxNetwork(
  config: Pick<
    Config,
    | "SANDBOX_NETWORK"
    | "SANDBOX_PROVIDER"
    | "SANDBOX_CONTROL_URL"
    | "SANDBOX_GATEWAY_SOURCE"
    | "GATEWAY_DIR"
    | "DATA_DIR"
    | "PORT"
  >,
  spec: { hostNetwork?: boolean } | undefined,
): SandboxNetwork {
  const direct = (mode: string): SandboxNetwork => {
    const controlUrl = sandboxControlUrl(config);
    return { mode, controlUrl, env: { TANDEM_CONTROL_URL: controlUrl } };
  };
  if (config.SANDBOX_PROVIDER === "local" || spec?.hostNetwork) return direct("host");
  if (config.SANDBOX_NETWORK !== "gateway") return direct(config.SANDBOX_NETWORK);
  const controlUrl = `http://127.0.0.1:${GATEWAY_CONTROL_PORT}`;
  const proxy = `http://127.0.0.1:${GATEWAY_PROXY_PORT}`;
  const noProxy = "127.0.0.1,localhost,::1";
  const ca = `${GATEWAY_MOUNT}/${GATEWAY_CA_CERT}`;
  const bundle = `${GATEWAY_MOUNT}/${GATEWAY_CA_BUNDLE}`;
  return {
    mode: "none",
    gatewaySource: config.SANDBOX_GATEWAY_SOURCE ?? gatewayDir(config),
    controlUrl,
    env: {
      TANDEM_CONTROL_URL: controlUrl,
      HTTP_PROXY: proxy,
      HTTPS_PROXY: proxy,
      http_proxy: proxy,
      https_proxy: proxy,
      NO_PROXY: noProxy,
      no_proxy: noProxy,
      // Tandem's CA, for the integration hosts the gateway answers itself.
      NODE_EXTRA_CA_CERTS: ca,
      SSL_CERT_FILE: bundle,
      CURL_CA_BUNDLE: bundle,
      REQUESTS_CA_BUNDLE: bundle,
      GIT_SSL_CAINFO: bundle,
      GH_TOKEN: CREDENTIAL_PLACEHOLDER,
    },
  };
}

/** Whether this instance's sandboxes go through the gateway (which the web process then serves). */
export const usesGateway = (config: Pick<Config, "SANDBOX_NETWORK" | "SANDBOX_PROVIDER">) =>
  config.SANDBOX_PROVIDER === "docker" && config.SANDBOX_NETWORK === "gateway";
