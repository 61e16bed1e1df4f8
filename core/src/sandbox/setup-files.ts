import { AppError } from "../errors.ts";
import { runSandboxSteps, writeSandboxFiles } from "./files.ts";
import { execCollect, type SandboxProvider } from "./types.ts";

/**
 * What a profile's setup script leaves in a checkout (installed dependencies, build output, a
 * generated `.env.local`) is the environment's, not the agent's work: it must not show in the
 * session's Changes, its diff stats, or be committed by `git add -A`. All three honour
 * `.git/info/exclude`, which lives in the clone (so in the snapshot image, and in the session
 * checkout made from it) and is never committed or pushed. A file the agent later creates at one
 * of those paths is hidden as well; that is the price of naming directories whole.
 *
 * Tracked files the script changed (a rewritten lockfile) are not listed: a session on the
 * snapshot checks its branch out with `--force`, which puts them back as committed. Hiding
 * them instead (`git update-index --skip-worktree`) would hide the agent's own later edits too.
 */

export const SETUP_BLOCK_BEGIN =
  "# tandem: setup script (the files it created are not a session's work)";
export const SETUP_BLOCK_END = "# tandem: end of setup script";

/** The exclude file's text without Tandem's block (everything else kept as it was). */
function withoutSetupBlock(text: string): string {
  const lines = text.split("\n");
  const begin = lines.indexOf(SETUP_BLOCK_BEGIN);
  if (begin < 0) return text;
  const end = lines.indexOf(SETUP_BLOCK_END, begin);
  lines.splice(begin, end < 0 ? lines.length - begin : end - begin + 1);
  return lines.join("\n");
}

/**
 * A pattern matching exactly this path from the repository's root (`dir/` for a directory, as
 * `git ls-files --directory` lists it); undefined for a path no pattern can name (a newline, or
 * bytes that are not UTF-8).
 */
function excludePattern(path: string): string | undefined {
  if (!path || /[\n\r]|\uFFFD/.test(path)) return undefined;
  const escaped = path.replace(/[\\*?[]/g, "\\$&").replace(/ +$/, (s) => "\\ ".repeat(s.length));
  return `/${escaped}`;
}

/** The exclude file's text with one block for `paths` in place of any earlier one (none for no paths). */
function withSetupBlock(text: string, paths: string[]): string {
  const kept = withoutSetupBlock(text);
  const patterns = paths.map(excludePattern).filter((p): p is string => p !== undefined);
  if (!patterns.length) return kept;
  const before = kept === "" || kept.endsWith("\n") ? kept : `${kept}\n`;
  return `${before}${[SETUP_BLOCK_BEGIN, ...patterns, SETUP_BLOCK_END].join("\n")}\n`;
}

/** Prints the exclude file's absolute path on one line, then its text (none when it is absent). */
const READ_EXCLUDE = `set -e
cd "$1"
f="$(git rev-parse --git-path info/exclude)"
case "$f" in /*) ;; *) f="$PWD/$f" ;; esac
printf '%s\\n' "$f"
if [ -f "$f" ]; then cat "$f"; fi`;

/** Untracked directories as one entry each, as `git status` shows them; empty ones not at all. */
const COLLAPSED = ["--directory", "--no-empty-directory"];

/**
 * Adds the untracked files and directories in the checkout at `dir` (collapsed as `git status`
 * shows them; what `.gitignore` already ignores is left out) to its `.git/info/exclude`, in one
 * block between Tandem's markers. Run right after the setup script; an earlier block is replaced,
 * not added to, so a second run lists what is there then, once. Returns the paths it excluded.
 */
export async function excludeSetupFiles(
  sandboxes: SandboxProvider,
  sandboxId: string,
  dir: string,
): Promise<string[]> {
  const fail = (what: string, stderr: string) =>
    new AppError("setup_files_failed", `${what} in ${dir}: ${stderr.trim() || "git said nothing"}`);
  const read = await execCollect(sandboxes, sandboxId, ["sh", "-c", READ_EXCLUDE, "sh", dir]);
  if (read.exitCode !== 0) throw fail("could not read .git/info/exclude", read.stderr);
  const newline = read.stdout.indexOf("\n");
  const file = read.stdout.slice(0, newline);
  const text = withoutSetupBlock(read.stdout.slice(newline + 1));
  // Listed with the earlier block taken out, so what it named is listed again when still there.
  const listed = await runSandboxSteps(
    sandboxes,
    sandboxId,
    [["git", "-C", dir, "ls-files", "-z", "--others", "--exclude-standard", ...COLLAPSED]],
    {},
    [{ path: file, content: text }],
  );
  if (listed.exitCode !== 0) throw fail("could not list the untracked files", listed.stderr);
  const paths = listed.stdout.split("\0").filter(Boolean);
  if (paths.length)
    await writeSandboxFiles(sandboxes, sandboxId, [
      { path: file, content: withSetupBlock(text, paths) },
    ]);
  return paths;
}
