/**
 * Git in the sandbox. The sandbox holds no git secret: each repository's clone URL is rewritten
 * (`url.<base>.insteadOf`) to Tandem's git remote for it, `<control>/sandbox/git/<repository
 * id>`, which forwards to the real remote with the stored credential or installation token,
 * fetch for the token's repositories only and push for the session's branch only. The helper
 * below answers git's password prompt for that remote with the sandbox token, and for no other
 * host, so a remote the agent adds never learns it.
 */

/**
 * The helper git runs as `<helper> get|store|erase` with the request on stdin. Needs
 * TANDEM_CONTROL_URL and TANDEM_TOKEN_FILE; written with mode 0755. It reads a file and
 * prints; it never calls anything.
 */
export const GIT_CREDENTIAL_HELPER_SCRIPT = `#!/bin/sh
# Tandem git credential helper: the sandbox token, for Tandem's git remote only.
set -eu
if [ "\${1:-}" != "get" ]; then
  cat >/dev/null
  exit 0
fi
control="\${TANDEM_CONTROL_URL#*://}"
control="\${control%%/*}"
host=""
while IFS= read -r line; do
  case "$line" in host=*) host="\${line#host=}" ;; esac
done
[ -n "$host" ] && [ "$host" = "$control" ] || exit 0
printf 'username=tandem\\npassword=%s\\n' "$(cat "$TANDEM_TOKEN_FILE")"
`;

/** Where Tandem's git remote for a repository is, as the sandbox reaches the control plane. */
const gatewayGitUrl = (controlUrl: string, repositoryId: string) =>
  `${controlUrl.replace(/\/$/, "")}/sandbox/git/${repositoryId}`;

/** Remotes the git remote can forward: http(s) only (ssh, git and file remotes are used as they are). */
const isHttpRemote = (cloneUrl: string) => /^https?:\/\//i.test(cloneUrl);

/**
 * The commands that install the helper for the sandbox user (`git config --global …`) and point
 * each http(s) repository's clone URL at Tandem's git remote for it.
 */
export function gitCredentialConfig(
  helperPath: string,
  controlUrl: string,
  repositories: ReadonlyArray<{ id: string; cloneUrl: string }>,
): string[][] {
  return [
    ["git", "config", "--global", "credential.helper", helperPath],
    ...repositories
      .filter((r) => isHttpRemote(r.cloneUrl))
      .map((r) => [
        "git",
        "config",
        "--global",
        `url.${gatewayGitUrl(controlUrl, r.id)}.insteadOf`,
        r.cloneUrl,
      ]),
  ];
}
