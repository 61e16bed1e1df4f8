import path from "node:path";
import { sandboxControlUrl, type Config } from "../config.ts";

/**
 * The sandbox's side of the gateway. A gateway sandbox runs with no network (`--network none`);
 * the gateway's directory is mounted read-only at GATEWAY_MOUNT, holding its unix socket and the
 * forwarder, which the sandbox's PID 1 starts: it listens on 127.0.0.1 inside the sandbox and
 * carries each connection over the socket, prefixed with the sandbox token, to the gateway.
 */
export const GATEWAY_MOUNT = "/run/tandem";
export const GATEWAY_SOCKET = "gateway.sock";
export const GATEWAY_FORWARDER = "forwarder.mjs";
/** Tandem's CA certificate alone, and the public roots with it (the gateway writes both). */
export const GATEWAY_CA_CERT = "ca.pem";
export const GATEWAY_CA_BUNDLE = "ca-bundle.pem";
/** What the sandbox holds where a client wants a GitHub token: the gateway puts the real one in. */
export const CREDENTIAL_PLACEHOLDER = "tandem-placeholder";
/** Inside the sandbox: the egress proxy (HTTP(S)_PROXY) and the control plane (model proxy, git). */
export const GATEWAY_PROXY_PORT = 3128;
export const GATEWAY_CONTROL_PORT = 3129;

/** Where the forwarder says it listens: /dev/shm, which each start of the container gets empty and no commit keeps. */
export const FORWARDER_READY = "/dev/shm/.tandem-forwarder-ready";

/**
 * A step for the first exec that needs the network: waits (up to 10 s) until the forwarder the
 * sandbox's PID 1 started listens, and fails naming the cause if it never does (an image
 * without `node`). Nothing to wait for off the gateway. Run late, not at start, so the
 * forwarder's start overlaps the writes and git config before it.
 */
export const GATEWAY_WAIT_STEP = ["sh", "-c",
  `[ -e ${GATEWAY_MOUNT}/${GATEWAY_FORWARDER} ] || exit 0; i=0; while [ ! -e ${FORWARDER_READY} ]; do i=$((i+1)); `
  + `if [ $i -gt 1000 ]; then echo "Tandem: the sandbox gateway's forwarder did not start (gateway sandboxes need node on PATH; build the image FROM tandem/sandbox)" >&2; exit 2; fi; sleep 0.01; done`];

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
  config: Pick<Config, "SANDBOX_NETWORK" | "SANDBOX_PROVIDER" | "SANDBOX_CONTROL_URL" | "SANDBOX_GATEWAY_SOURCE" | "GATEWAY_DIR" | "DATA_DIR" | "PORT">,
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
      HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy,
      NO_PROXY: noProxy, no_proxy: noProxy,
      // Tandem's CA, for the integration hosts the gateway answers itself.
      NODE_EXTRA_CA_CERTS: ca, SSL_CERT_FILE: bundle, CURL_CA_BUNDLE: bundle, REQUESTS_CA_BUNDLE: bundle, GIT_SSL_CAINFO: bundle,
      GH_TOKEN: CREDENTIAL_PLACEHOLDER,
    },
  };
}

/** Whether this instance's sandboxes go through the gateway (which the web process then serves). */
export const usesGateway = (config: Pick<Config, "SANDBOX_NETWORK" | "SANDBOX_PROVIDER">) =>
  config.SANDBOX_PROVIDER === "docker" && config.SANDBOX_NETWORK === "gateway";
