import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { Config, NetworkPolicy } from "@tandem/core";

/** Where a host may be connected, or why not. */
export type EgressTarget =
  | { ok: true; address: string; port: number; reason: string }
  | { ok: false; reason: string; message: string };

/** Lower case, no trailing dot, no IPv6 brackets: the form policies and aliases are written in. */
export const normalHost = (host: string) =>
  host
    .trim()
    .toLowerCase()
    .replace(/\.$/, "")
    .replace(/^\[(.*)\]$/, "$1");

/** `open`: any host; `allowlist`: an exact entry or a `*.suffix` one (subdomains only); `none`: nothing. */
export function policyAllows(policy: NetworkPolicy, host: string): boolean {
  if (policy.egress === "open") return true;
  if (policy.egress === "none") return false;
  return policy.allow.some((entry) =>
    entry.startsWith("*.") ? host.endsWith(entry.slice(1)) : host === entry,
  );
}

// Addresses a sandbox never reaches, whatever its policy: the host itself, the private networks
// the control plane lives on, and the cloud metadata service (169.254.169.254).
const RANGES: Array<[label: string, subnet: string, prefix: number, family: "ipv4" | "ipv6"]> = [
  ["unspecified", "0.0.0.0", 8, "ipv4"],
  ["private", "10.0.0.0", 8, "ipv4"],
  ["private", "100.64.0.0", 10, "ipv4"],
  ["loopback", "127.0.0.0", 8, "ipv4"],
  ["link-local", "169.254.0.0", 16, "ipv4"],
  ["private", "172.16.0.0", 12, "ipv4"],
  ["private", "192.168.0.0", 16, "ipv4"],
  ["multicast", "224.0.0.0", 4, "ipv4"],
  ["reserved", "240.0.0.0", 4, "ipv4"],
  ["unspecified", "::", 128, "ipv6"],
  ["loopback", "::1", 128, "ipv6"],
  // IPv4-mapped addresses would smuggle any of the above past a v6-only check.
  ["ipv4-mapped", "::ffff:0:0", 96, "ipv6"],
  ["private", "fc00::", 7, "ipv6"],
  ["link-local", "fe80::", 10, "ipv6"],
  ["multicast", "ff00::", 8, "ipv6"],
];
const blocked = RANGES.map(([label, subnet, prefix, family]) => {
  const list = new BlockList();
  list.addSubnet(subnet, prefix, family);
  return { label, list, family };
});

/** The kind of non-public address `address` is (loopback, private, link-local, …), or null for a public one. */
function nonPublicKind(address: string): string | null {
  const family = isIP(address) === 6 ? "ipv6" : "ipv4";
  return blocked.find((b) => b.family === family && b.list.check(address, family))?.label ?? null;
}

export type Resolve = (host: string) => Promise<string[]>;
export const systemResolve: Resolve = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/**
 * Where to connect for `host:port`, once the policy allowed it. An alias (SANDBOX_HOST_ALIASES)
 * goes to its target as it is; any other name is resolved and every address checked, and the
 * connection goes to the checked address, so a second lookup (DNS rebinding) cannot swap it.
 */
export async function resolveTarget(
  aliases: Config["SANDBOX_HOST_ALIASES"],
  resolve: Resolve,
  host: string,
  port: number,
): Promise<EgressTarget> {
  const alias = aliases[host];
  if (alias)
    return {
      ok: true,
      address: alias.host,
      port: alias.port,
      reason: `alias for ${alias.host}:${alias.port}`,
    };
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : await resolve(host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "lookup failed";
    return {
      ok: false,
      reason: `dns: ${code}`,
      message: `${host} could not be resolved (${code})`,
    };
  }
  for (const address of addresses) {
    const kind = nonPublicKind(address);
    if (kind) {
      return {
        ok: false,
        reason: `${kind} address ${address}`,
        message: `${host} is not allowed (${isIP(host) ? "it is" : `it resolves to ${address},`} a ${kind} address, which no sandbox reaches)`,
      };
    }
  }
  if (!addresses[0])
    return { ok: false, reason: "dns: no address", message: `${host} has no address` };
  return { ok: true, address: addresses[0], port, reason: "policy" };
}
