import { AppError, execCollect } from "@tandem/core";
import type { LiveSandbox } from "./sandbox-access.ts";

const LISTEN = "0A";
/** Addresses a connection to 127.0.0.1 inside the sandbox reaches: loopback and any-address. */
const REACHABLE = new Set([
  "0100007F",
  "00000000",
  "00000000000000000000000000000000",
  "00000000000000000000000001000000",
  "0000000000000000FFFF00000100007F",
]);

/**
 * Parses `/proc/net/tcp` and `/proc/net/tcp6`: the ports in state LISTEN on loopback. With
 * `ownedInodes`, only sockets held by one of those (the sandbox's own processes) count.
 */
function parseListening(text: string, ownedInodes?: Set<string>): number[] {
  const ports = new Set<number>();
  for (const line of text.split("\n")) {
    const cols = line.trim().split(/\s+/);
    const [address, port] = (cols[1] ?? "").split(":");
    if (cols[3] !== LISTEN || !address || !port || !REACHABLE.has(address.toUpperCase())) continue;
    if (ownedInodes && !ownedInodes.has(cols[9] ?? "")) continue;
    ports.add(parseInt(port, 16));
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * The sandbox's listening ports. A sandbox on the host's network sees the host's sockets in
 * /proc/net/tcp too; only sockets that a process of the sandbox holds open are its own, so the
 * Processes panel and the port proxy never reach Tandem, its database or anything else on the host.
 */
export async function listeningPorts(sandbox: LiveSandbox): Promise<number[]> {
  const r = await execCollect(sandbox.provider, sandbox.id, [
    "sh",
    "-c",
    "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; echo '--- sockets'; find /proc/[0-9]*/fd -lname 'socket:*' -printf '%l\\n' 2>/dev/null; true",
  ]);
  if (r.exitCode !== 0)
    throw new AppError("processes_failed", "could not read the sandbox's listening ports", 502);
  const [table = "", sockets = ""] = r.stdout.split("--- sockets\n");
  const owned = new Set([...sockets.matchAll(/socket:\[(\d+)\]/g)].map((m) => m[1]!));
  return parseListening(table, owned);
}
