import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { AppError } from "./errors.ts";

/**
 * Secrets at rest (repository credentials, installation tokens): AES-256-GCM with ENCRYPTION_KEY.
 * Stored as `v1:<iv>:<tag>:<ciphertext>`, base64 parts.
 */
export function encryptSecret(key: string | undefined, plaintext: string): string {
  const k = keyBytes(key);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", k, iv);
  const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [
    "v1",
    iv.toString("base64"),
    cipher.getAuthTag().toString("base64"),
    data.toString("base64"),
  ].join(":");
}

export function decryptSecret(key: string | undefined, stored: string): string {
  const [version, iv, tag, data] = stored.split(":");
  if (version !== "v1" || !iv || !tag || data === undefined)
    throw new AppError("bad_secret", "stored secret is malformed");
  const decipher = createDecipheriv("aes-256-gcm", keyBytes(key), Buffer.from(iv, "base64"));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  try {
    return Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    throw new AppError("bad_secret", "cannot decrypt a stored secret: was ENCRYPTION_KEY changed?");
  }
}

function keyBytes(key: string | undefined): Buffer {
  if (!key)
    throw new AppError(
      "encryption_key_missing",
      "ENCRYPTION_KEY is required to store credentials (openssl rand -base64 32)",
      400,
    );
  const bytes = Buffer.from(key, "base64");
  if (bytes.length !== 32)
    throw new AppError("encryption_key_invalid", "ENCRYPTION_KEY must be 32 bytes, base64");
  return bytes;
}
