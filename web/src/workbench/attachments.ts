import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { AppError, badRequest } from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { parse } from "../http.ts";
import { liveSandboxOrThrow, requireSession, type LiveSandbox } from "./sandbox-access.ts";

const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
const ATTACHMENTS_DIR = ".tandem/attachments";

const body = z.strictObject({
  name: z.string().min(1).max(255),
  contentBase64: z
    .string()
    .max(Math.ceil(MAX_ATTACHMENT_BYTES / 3) * 4 + 4, {
      error: `attachments are at most ${MAX_ATTACHMENT_BYTES} bytes`,
    })
    .regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: "contentBase64 must be base64" }),
});

/** A name that is one plain file in the attachments folder: no path, no leading dot, no odd characters. */
function safeFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const safe = base
    .normalize("NFKC")
    .replace(/[^\w.-]+/g, "_")
    .replace(/^[.-]+/, "")
    .slice(-128);
  if (!safe || !/[\w]/.test(safe)) throw badRequest(`"${name}" is not a usable file name`);
  return safe;
}

/**
 * Writes the file from stdin into `<repo>/.tandem/attachments/<name>` and keeps `.tandem/` out of
 * git through `.git/info/exclude` (the repository's own .gitignore is not touched).
 */
const SCRIPT = `set -e
cd "$1"
mkdir -p ${ATTACHMENTS_DIR}
exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
grep -qxF '.tandem/' "$exclude" 2>/dev/null || printf '.tandem/\\n' >> "$exclude"
cat > "${ATTACHMENTS_DIR}/$2"`;

async function copyIntoSandbox(sandbox: LiveSandbox, name: string, bytes: Buffer) {
  const proc = await sandbox.provider.exec(
    sandbox.id,
    ["sh", "-c", SCRIPT, "sh", sandbox.workdir, name],
    { stdin: true, env: sandbox.env },
  );
  const stderr: Buffer[] = [];
  proc.stdout.resume();
  proc.stderr.on("data", (d: Buffer) => stderr.push(d));
  proc.stdin!.end(bytes);
  const { exitCode } = await proc.wait();
  if (exitCode !== 0) {
    throw new AppError(
      "attachment_failed",
      `could not write the attachment in the sandbox: ${Buffer.concat(stderr).toString().trim().split("\n").pop()}`,
      502,
    );
  }
}

/** `POST /api/sessions/:id/attachments`: a file for the agent, placed in its checkout. */
export function attachmentRoutes(app: FastifyInstance, deps: WebDeps) {
  app.post(
    "/api/sessions/:id/attachments",
    { bodyLimit: Math.ceil(MAX_ATTACHMENT_BYTES / 3) * 4 + 64 * 1024 },
    async (req, reply) => {
      const session = await requireSession(deps, req);
      const input = parse(body, req.body);
      const name = safeFileName(input.name);
      const bytes = Buffer.from(input.contentBase64, "base64");
      if (bytes.length > MAX_ATTACHMENT_BYTES)
        throw badRequest(`attachments are at most ${MAX_ATTACHMENT_BYTES} bytes`);
      await copyIntoSandbox(await liveSandboxOrThrow(deps, session), name, bytes);
      return reply.code(201).send({ path: `${ATTACHMENTS_DIR}/${name}`, sizeBytes: bytes.length });
    },
  );
}
