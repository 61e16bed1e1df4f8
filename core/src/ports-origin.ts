import { isIP } from "node:net";

/**
 * Sandbox ports are served from their own origin, one host per session and port:
 * `<port>-<session id>.<ports host>`. Cookies ignore ports, so what keeps a sandbox's page from
 * setting cookies Tandem receives is the host names alone.
 */

const SESSION_ID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const LABEL = new RegExp(`^(\\d{1,5})-(${SESSION_ID})$`);

/** The origin a session's port is served from, e.g. `http://3000-<id>.localhost:3001`. */
export function portOrigin(portsBase: string, sessionId: string, port: number): string {
  const base = new URL(portsBase);
  return `${base.protocol}//${port}-${sessionId.toLowerCase()}.${base.host}`;
}

/** The session and port a request's `Host` names under the ports base; undefined for any other host. */
export function parsePortHost(
  portsBase: string,
  hostHeader: string | undefined,
): { sessionId: string; port: number } | undefined {
  const baseHost = new URL(portsBase).hostname.toLowerCase();
  const host = (hostHeader ?? "").toLowerCase().replace(/:\d+$/, "");
  if (!host.endsWith(`.${baseHost}`)) return undefined;
  const m = LABEL.exec(host.slice(0, -baseHost.length - 1));
  const port = Number(m?.[1]);
  if (!m || port < 1 || port > 65535) return undefined;
  return { sessionId: m[2]!, port };
}

/**
 * Why this pair of addresses would let a sandbox's page set cookies for Tandem, or undefined.
 * A page on `x.<ports host>` may set a cookie for its host and every parent domain that is not a
 * public suffix; Tandem receives one whose domain is its host or a parent of it. Single-label
 * names (`localhost`) are treated as suffixes by browsers, so they are never shared.
 */
export function portsOriginProblem(publicUrl: string, portsUrl: string): string | undefined {
  const tandem = new URL(publicUrl).hostname.toLowerCase();
  const ports = new URL(portsUrl).hostname.toLowerCase();
  if (isIP(ports.replace(/^\[|\]$/g, "")))
    return `${ports} is an IP address; ports need a host name to make one subdomain per session and port (e.g. http://localhost:3001)`;
  // An IP address only ever receives cookies set for exactly itself.
  if (isIP(tandem.replace(/^\[|\]$/g, ""))) return undefined;
  const labels = ports.split(".");
  for (let i = 0; i < labels.length - 1; i++) {
    const domain = labels.slice(i).join(".");
    if (tandem === domain || tandem.endsWith(`.${domain}`)) {
      return (
        `pages of sandboxes under ${ports} could set cookies for ${domain}, which Tandem (${tandem}) receives; ` +
        "use a domain that PUBLIC_URL's host is not under (e.g. tandem-ports.example.net)"
      );
    }
  }
  return undefined;
}
