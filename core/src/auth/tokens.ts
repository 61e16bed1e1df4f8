import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Tokens look like `tdm_<43 chars>`; the prefix lets secret scanners recognise them. */
export const generateToken = () => `tdm_${randomBytes(32).toString("base64url")}`;

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
