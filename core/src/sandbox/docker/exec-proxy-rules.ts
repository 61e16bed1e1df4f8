/**
 * What the exec proxy lets through to the Docker engine, decided on the request line alone
 * (the body and the container's labels are checked by the proxy itself). Everything a web
 * process needs to reach a running sandbox, and nothing that makes, changes or lists anything.
 */
export type ProxyRoute =
  | { kind: "plain"; path: string }
  | { kind: "container"; action: "inspect" | "exec"; id: string; version: string; query: string }
  | { kind: "exec"; action: "start" | "resize" | "inspect"; id: string; path: string }
  | { kind: "refused"; message: string };

const VERSION = "(/v\\d+(?:\\.\\d+)?)?";
/** A container or exec id (or a container name): no slash, dot-dot or escape can hide in it. */
const ID = "([A-Za-z0-9][A-Za-z0-9_.-]*)";
const match = (path: string, pattern: string) => new RegExp(`^${VERSION}${pattern}$`).exec(path);

const ALLOWED =
  "only GET/HEAD /_ping, GET /version, GET /containers/<id>/json and POST /containers/<id>/exec on Tandem sandboxes " +
  "(label tandem.managed=true), and POST /exec/<id>/start, POST /exec/<id>/resize, GET /exec/<id>/json for execs made through this proxy";

export function routeOf(method: string, rawUrl: string): ProxyRoute {
  const [path = "", query = ""] = rawUrl.split(/\?(.*)/s, 2);
  const refused = {
    kind: "refused" as const,
    message: `docker exec proxy: ${method} ${path} is refused; it forwards ${ALLOWED}`,
  };
  if (path.includes("%") || path.includes("//")) return refused;
  const q = query ? `?${query}` : "";
  if ((method === "GET" || method === "HEAD") && match(path, "/_ping"))
    return { kind: "plain", path: path + q };
  if (method === "GET" && match(path, "/version")) return { kind: "plain", path: path + q };
  let m = match(path, `/containers/${ID}/json`);
  if (m && method === "GET")
    return { kind: "container", action: "inspect", id: m[2]!, version: m[1] ?? "", query: q };
  m = match(path, `/containers/${ID}/exec`);
  if (m && method === "POST")
    return { kind: "container", action: "exec", id: m[2]!, version: m[1] ?? "", query: q };
  m = match(path, `/exec/${ID}/(start|resize|json)`);
  if (m) {
    const action = m[3] === "json" ? "inspect" : (m[3] as "start" | "resize");
    if ((action === "inspect") === (method === "GET") && (method === "GET" || method === "POST")) {
      return { kind: "exec", action, id: m[2]!, path: path + q };
    }
  }
  return refused;
}

/**
 * The user an exec would run as: its own `User`, else the container's. Allowed: a non-zero
 * numeric uid (with a non-zero gid, if any) or the `agent` user; never root, never empty (an
 * empty container user is the image's, which may be root).
 */
export function execUserRefusal(execUser: unknown, containerUser: unknown): string | undefined {
  const user =
    typeof execUser === "string" && execUser !== ""
      ? execUser
      : typeof containerUser === "string"
        ? containerUser
        : "";
  const [uid = "", gid] = user.split(":");
  const nonZero = (s: string) => /^[1-9]\d*$/.test(s);
  if ((nonZero(uid) || uid === "agent") && (gid === undefined || nonZero(gid) || gid === "agent"))
    return undefined;
  return `docker exec proxy: an exec as user ${JSON.stringify(user || "(the image's default)")} is refused; execs run as a non-root user (uid 1000)`;
}
