/**
 * Git credentials for the sandbox. The sandbox holds no git secret: git's `credential.helper`
 * asks the control plane with the session's sandbox token, which answers for the session's
 * repositories only and stops answering when the session ends.
 */

/**
 * The helper git runs as `<helper> get|store|erase` with the credential request on stdin.
 * Needs TANDEM_CONTROL_URL and TANDEM_TOKEN_FILE; it must be written with mode 0755.
 * A 404 (no credential for that remote) or 401 (session ended) makes curl fail, and git then
 * behaves as if the helper knew nothing.
 */
export const GIT_CREDENTIAL_HELPER_SCRIPT = `#!/bin/sh
# Tandem git credential helper: asks the control plane; nothing is stored in the sandbox.
set -eu
if [ "\${1:-}" != "get" ]; then
  cat >/dev/null
  exit 0
fi
exec curl -fsS --max-time 30 -X POST \\
  -H "Content-Type: text/plain" \\
  -H "Authorization: Bearer $(cat "$TANDEM_TOKEN_FILE")" \\
  --data-binary @- \\
  "\${TANDEM_CONTROL_URL%/}/sandbox/git-credential"
`;

/** The commands that install the helper for the sandbox user (`git config --global …`). */
export function gitCredentialConfig(helperPath: string): string[][] {
  return [
    ["git", "config", "--global", "credential.helper", helperPath],
    // Without the path git would ask for "any repository on this host".
    ["git", "config", "--global", "credential.useHttpPath", "true"],
  ];
}

/** What git asks for: `protocol=https`, `host=git.example.test:8080`, `path=acme/app.git`. */
export interface GitCredentialRequest {
  protocol: string;
  host: string;
  path?: string;
}

/** Parses git's credential protocol (`key=value` lines); null when protocol or host is missing. */
export function parseGitCredentialRequest(text: string): GitCredentialRequest | null {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1).replace(/\r$/, ""));
  }
  const protocol = fields.get("protocol");
  const host = fields.get("host");
  if (!protocol || !host) return null;
  const path = fields.get("path");
  return { protocol, host, ...(path ? { path } : {}) };
}

const DEFAULT_PORTS: Record<string, string> = { http: "80", https: "443" };

/** host[:port] in lower case, without the protocol's default port. */
function normalHost(protocol: string, host: string): string {
  const lower = host.toLowerCase();
  const port = DEFAULT_PORTS[protocol];
  return port && lower.endsWith(`:${port}`) ? lower.slice(0, -(port.length + 1)) : lower;
}

/** A repository path without surrounding slashes or a `.git` suffix. */
function normalPath(path: string): string {
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    /* compare it as sent */
  }
  return decoded.replace(/^\/+|\/+$/g, "").replace(/\.git$/, "");
}

/**
 * Whether git's request is for this http(s) clone URL: same protocol, host and port, and the
 * same path when git sends one. ssh and file remotes never match: they do not use this helper.
 */
export function credentialRequestMatches(request: GitCredentialRequest, cloneUrl: string): boolean {
  let url: URL;
  try {
    url = new URL(cloneUrl);
  } catch {
    return false;
  }
  const protocol = url.protocol.replace(/:$/, "");
  if (protocol !== "http" && protocol !== "https") return false;
  if (request.protocol !== protocol) return false;
  if (normalHost(protocol, request.host) !== normalHost(protocol, url.host)) return false;
  return request.path === undefined || normalPath(request.path) === normalPath(url.pathname);
}

/** git's answer format; values were checked for line breaks when they were stored. */
export const formatGitCredential = (credential: { username: string; password: string }) =>
  `username=${credential.username}\npassword=${credential.password}\n`;
