import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import forge from "node-forge";
import { systemClock, type Clock } from "@tandem/core";

/**
 * The sandbox gateway's certificate authority: sandboxes trust its certificate, and the gateway
 * terminates TLS for integration hosts with leaf certificates it issues. Its key lives in
 * GATEWAY_CA_DIR only.
 */
export interface GatewayCa {
  /** The CA certificate, PEM: public, what a sandbox installs as trusted. */
  readonly certPem: string;
  /** A server context for `host` (a name or an IP literal), its leaf issued on first use and cached. */
  secureContext(host: string): tls.SecureContext;
}

const KEY_FILE = "ca-key.pem";
const CERT_FILE = "ca-cert.pem";
const CA_YEARS = 10;
const DAY_MS = 24 * 60 * 60_000;
/** Leaves are short-lived and re-issued a day before they expire; a day of backdating absorbs sandbox clock skew. */
const LEAF_DAYS = 30;

const generateRsa = promisify(generateKeyPair);
const newRsaKey = () =>
  generateRsa("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });

/** A positive random serial (RFC 5280: at most 20 bytes, non-negative). */
const serial = () => {
  const bytes = randomBytes(16);
  bytes[0]! &= 0x7f;
  return bytes.toString("hex");
};

/**
 * The CA in `dir`, created on first start (key mode 0600, the directory 0700). A key and
 * certificate that do not belong together stop start-up with a message saying so.
 */
export async function loadOrCreateCa(
  dir: string,
  opts: { clock?: Clock } = {},
): Promise<GatewayCa> {
  const clock = opts.clock ?? systemClock;
  const keyFile = path.join(dir, KEY_FILE);
  const certFile = path.join(dir, CERT_FILE);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let keyPem: string;
  let certPem: string;
  try {
    [keyPem, certPem] = await Promise.all([readFile(keyFile, "utf8"), readFile(certFile, "utf8")]);
    if (((await stat(keyFile)).mode & 0o077) !== 0) await chmod(keyFile, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    ({ keyPem, certPem } = await createCa(clock.now()));
    // Each file appears whole (rename), the key before the certificate that names it.
    for (const [file, text, mode] of [
      [keyFile, keyPem, 0o600],
      [certFile, certPem, 0o644],
    ] as const) {
      const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(tmp, text, { mode, flag: "wx" });
      await rename(tmp, file);
    }
  }
  if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem))) {
    throw new Error(
      `the gateway CA in ${dir}: ${CERT_FILE} does not belong to ${KEY_FILE}; remove both to make a new CA (sandboxes must then trust the new one)`,
    );
  }
  return issuer(
    forge.pki.privateKeyFromPem(keyPem),
    forge.pki.certificateFromPem(certPem),
    await newRsaKey(),
    clock,
  );
}

async function createCa(now: Date) {
  const { privateKey, publicKey } = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - DAY_MS);
  cert.validity.notAfter = new Date(now.getTime() + CA_YEARS * 365 * DAY_MS);
  const name = [
    { name: "commonName", value: "Tandem sandbox gateway CA" },
    { name: "organizationName", value: "Tandem" },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { keyPem: privateKey, certPem: forge.pki.certificateToPem(cert) };
}

/** Issues leaves for hosts; every leaf shares one key made at start (only the signature is per host). */
function issuer(
  caKey: forge.pki.rsa.PrivateKey,
  caCert: forge.pki.Certificate,
  leafKey: { privateKey: string; publicKey: string },
  clock: Clock,
): GatewayCa {
  const leafPublic = forge.pki.publicKeyFromPem(leafKey.publicKey);
  const authorityKeyId = caCert.generateSubjectKeyIdentifier().getBytes();
  const contexts = new Map<string, { context: tls.SecureContext; renewAt: number }>();
  const issue = (host: string, now: Date) => {
    const cert = forge.pki.createCertificate();
    cert.publicKey = leafPublic;
    cert.serialNumber = serial();
    cert.validity.notBefore = new Date(now.getTime() - DAY_MS);
    cert.validity.notAfter = new Date(now.getTime() + LEAF_DAYS * DAY_MS);
    cert.setSubject([{ name: "commonName", value: host }]);
    cert.setIssuer(caCert.subject.attributes);
    cert.setExtensions([
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [net.isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }],
      },
      { name: "subjectKeyIdentifier" },
      { name: "authorityKeyIdentifier", keyIdentifier: authorityKeyId },
    ]);
    cert.sign(caKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  };
  return {
    certPem: forge.pki.certificateToPem(caCert),
    secureContext(host) {
      const now = clock.now();
      const hit = contexts.get(host);
      if (hit && hit.renewAt > now.getTime()) return hit.context;
      const context = tls.createSecureContext({ key: leafKey.privateKey, cert: issue(host, now) });
      contexts.set(host, { context, renewAt: now.getTime() + (LEAF_DAYS - 1) * DAY_MS });
      return context;
    },
  };
}
