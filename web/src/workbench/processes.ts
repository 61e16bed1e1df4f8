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

/** A listening port and the process behind it (the one holding its socket, the lowest pid if several). */
export interface ListeningProcess {
  port: number;
  pid: number | null;
  command: string | null;
}

/**
 * Parses `/proc/net/tcp` and `/proc/net/tcp6`: the ports in state LISTEN on loopback, by socket
 * inode. With `owners` (inode → pid), only sockets a process of the sandbox holds count.
 */
function parseListening(text: string, owners?: Map<string, number>): Map<number, string> {
  const ports = new Map<number, string>();
  for (const line of text.split("\n")) {
    const cols = line.trim().split(/\s+/);
    const [address, port] = (cols[1] ?? "").split(":");
    if (cols[3] !== LISTEN || !address || !port || !REACHABLE.has(address.toUpperCase())) continue;
    const inode = cols[9] ?? "";
    if (owners && !owners.has(inode)) continue;
    const n = parseInt(port, 16);
    if (!ports.has(n)) ports.set(n, inode);
  }
  return ports;
}

/** The script's sections: the socket tables, then `<pid> socket:[<inode>]` lines, then `<pid> <command line>`. */
const SCRIPT = [
  "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null",
  "echo '--- sockets'",
  "find /proc/[0-9]*/fd -lname 'socket:*' -printf '%h %l\\n' 2>/dev/null | sed 's|^/proc/\\([0-9]*\\)/fd |\\1 |'",
  "echo '--- commands'",
  "for d in /proc/[0-9]*; do p=${d#/proc/}; [ -r $d/cmdline ] || continue; printf '%s ' $p; tr '\\0' ' ' < $d/cmdline 2>/dev/null; echo; done",
  "true",
].join("; ");

/**
 * The sandbox's listening ports, with the pid and command line behind each. A sandbox on the
 * host's network sees the host's sockets in /proc/net/tcp too; only sockets that a process of
 * the sandbox holds open are its own, so the Processes panel and the port proxy never reach
 * Tandem, its database or anything else on the host.
 */
export async function listeningProcesses(sandbox: LiveSandbox): Promise<ListeningProcess[]> {
  const r = await execCollect(sandbox.provider, sandbox.id, ["sh", "-c", SCRIPT]);
  if (r.exitCode !== 0)
    throw new AppError("processes_failed", "could not read the sandbox's listening ports", 502);
  const [table = "", rest = ""] = r.stdout.split("--- sockets\n");
  const [sockets = "", commands = ""] = rest.split("--- commands\n");
  const owners = new Map<string, number>();
  for (const m of sockets.matchAll(/^(\d+) socket:\[(\d+)\]$/gm)) {
    const pid = Number(m[1]);
    const known = owners.get(m[2]!);
    if (known === undefined || pid < known) owners.set(m[2]!, pid);
  }
  const commandOf = new Map<number, string>();
  for (const m of commands.matchAll(/^(\d+) (.*)$/gm)) commandOf.set(Number(m[1]), m[2]!.trim());
  return [...parseListening(table, owners)]
    .sort(([a], [b]) => a - b)
    .map(([port, inode]) => {
      const pid = owners.get(inode) ?? null;
      return { port, pid, command: (pid !== null && commandOf.get(pid)) || null };
    });
}

/** The sandbox's listening ports (see `listeningProcesses`). */
export async function listeningPorts(sandbox: LiveSandbox): Promise<number[]> {
  return (await listeningProcesses(sandbox)).map((p) => p.port);
}
