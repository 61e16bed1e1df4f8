import { AppError, execCollect } from "@tandem/core";
import type { LiveSandbox } from "./sandbox-access.ts";

export interface FileChange {
  path: string;
  status: "added" | "modified" | "deleted" | "renamed" | "changed";
  /** Where a renamed file was. */
  oldPath?: string;
  added: number;
  removed: number;
  patch: string;
}

/** Printed between the sections by `printf '\\036tandem\\036'` (a NUL cannot be in an argument). */
const SEP = "\u001etandem\u001e";
/**
 * Everything the work changes against the merge base with the default branch, untracked files
 * included: they are marked intent-to-add in a throwaway copy of the index, so the agent's own
 * index is left as it was. Prints the base, then `--name-status`, `--numstat` and the patch, with
 * renames found (a moved file is one renamed entry, not a deletion and an addition).
 */
const SCRIPT = `set -e
cd "$2"
base="$(git merge-base HEAD "origin/$1" 2>/dev/null || git merge-base HEAD "$1" 2>/dev/null || git rev-parse HEAD)"
tmp="$(mktemp)"; trap 'rm -f "$tmp"' EXIT
index="$(git rev-parse --git-path index)"
if [ -f "$index" ]; then cp "$index" "$tmp"; else rm -f "$tmp"; fi
export GIT_INDEX_FILE="$tmp"
git add --intent-to-add --all . >/dev/null 2>&1 || true
printf '%s' "$base"; printf '\\036tandem\\036'
git diff -M --name-status -z "$base" --; printf '\\036tandem\\036'
git diff -M --numstat -z "$base" --; printf '\\036tandem\\036'
git diff -M --no-color --no-ext-diff "$base" --`;

const STATUS: Record<string, FileChange["status"]> = {
  A: "added",
  M: "modified",
  D: "deleted",
  R: "renamed",
};

/** Splits a whole-tree patch into per-file parts, in git's order (the same as numstat's). */
function splitPatch(patch: string): string[] {
  const parts: string[] = [];
  for (const line of patch.split(/(?<=\n)/)) {
    if (line.startsWith("diff --git ") || parts.length === 0) parts.push(line);
    else parts[parts.length - 1] += line;
  }
  return parts.filter((p) => p.startsWith("diff --git "));
}

export async function collectChanges(sandbox: LiveSandbox) {
  const r = await execCollect(
    sandbox.provider,
    sandbox.id,
    ["sh", "-c", SCRIPT, "sh", sandbox.defaultBranch, sandbox.workdir],
    {
      env: sandbox.env,
    },
  );
  if (r.exitCode !== 0)
    throw new AppError(
      "changes_failed",
      `could not compute the changes: ${r.stderr.trim().split("\n").slice(-2).join(" ")}`,
      502,
    );
  const [base = "", nameStatus = "", numstat = "", patch = ""] = r.stdout.split(SEP);
  // -z: `M\0path\0`, and for a rename `R<score>\0old\0new\0`.
  const statusOf = new Map<string, FileChange["status"]>();
  const ns = nameStatus.split("\0");
  for (let i = 0; i + 1 < ns.length; i += 2) {
    const code = ns[i]!.charAt(0);
    if (code === "R" || code === "C") i++;
    statusOf.set(ns[i + 1]!, STATUS[code] ?? "changed");
  }
  // -z: `added\tremoved\tpath\0`, and for a rename `added\tremoved\t\0old\0new\0`.
  const patches = splitPatch(patch);
  const count = (s: string) => (s === "-" ? 0 : Number(s));
  const files: FileChange[] = [];
  const entries = numstat.split("\0");
  for (let i = 0; i < entries.length; i++) {
    if (!entries[i]) continue;
    const [added = "0", removed = "0", ...rest] = entries[i]!.split("\t");
    let name = rest.join("\t");
    let oldPath: string | undefined;
    if (!name) [oldPath, name] = [entries[++i] ?? "", entries[++i] ?? ""];
    files.push({
      path: name,
      status: statusOf.get(name) ?? "changed",
      ...(oldPath ? { oldPath } : {}),
      added: count(added),
      removed: count(removed),
      patch: patches[files.length] ?? "",
    });
  }
  const totals = {
    files: files.length,
    added: files.reduce((n, f) => n + f.added, 0),
    removed: files.reduce((n, f) => n + f.removed, 0),
  };
  return { base: base.trim(), files, totals };
}
