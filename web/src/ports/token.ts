import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { forbidden, type Clock, type Config } from "@tandem/core";

/**
 * Who may open a session's port, signed by Tandem: the short-lived `link` in the redirect from
 * Tandem's origin, and the `cookie` the ports origin sets from it for that one host.
 */
export interface PortClaims {
  kind: "link" | "cookie";
  sessionId: string;
  port: number;
  userId: string;
  expiresAtMs: number;
}

export const LINK_TTL_MS = 60_000;
export const COOKIE_TTL_MS = 60 * 60_000;

/** Without ENCRYPTION_KEY a key of this process: links then work only on the web process that made them. */
const processKey = randomBytes(32);

export function portTokenKey(config: Config): Buffer {
  if (!config.ENCRYPTION_KEY) return processKey;
  return Buffer.from(
    hkdfSync(
      "sha256",
      Buffer.from(config.ENCRYPTION_KEY, "base64"),
      "",
      "tandem port tokens v1",
      32,
    ),
  );
}

const mac = (key: Buffer, payload: string) =>
  createHmac("sha256", key).update(payload).digest("base64url");

export function signPortToken(key: Buffer, claims: PortClaims): string {
  const payload = Buffer.from(
    JSON.stringify([claims.kind, claims.sessionId, claims.port, claims.userId, claims.expiresAtMs]),
  ).toString("base64url");
  return `${payload}.${mac(key, payload)}`;
}

/** The claims of a token for exactly this session, port and kind; 403 naming what is wrong otherwise. */
export function verifyPortToken(
  key: Buffer,
  clock: Clock,
  token: string,
  expected: { kind: PortClaims["kind"]; sessionId: string; port: number },
): PortClaims {
  const [payload = "", signature = ""] = token.split(".");
  const good = Buffer.from(mac(key, payload));
  const given = Buffer.from(signature);
  if (!payload || given.length !== good.length || !timingSafeEqual(given, good)) {
    throw forbidden(
      "this port link is not signed by Tandem; open the port from the session's Processes panel",
    );
  }
  const [kind, sessionId, port, userId, expiresAtMs] = JSON.parse(
    Buffer.from(payload, "base64url").toString(),
  ) as [string, string, number, string, number];
  if (kind !== expected.kind || sessionId !== expected.sessionId || port !== expected.port) {
    throw forbidden("this port link is for another session or port");
  }
  if (clock.now().getTime() >= expiresAtMs) {
    throw forbidden(
      "this port link has expired; open the port again from the session's Processes panel",
    );
  }
  return { kind: expected.kind, sessionId, port, userId, expiresAtMs };
}
