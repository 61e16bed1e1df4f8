import { randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { eq } from "drizzle-orm";
import {
  AppError,
  badRequest,
  findRepositoriesByName,
  getProfileViewOrThrow,
  requireAdmin,
  runSetupScript,
  schema,
  setupSandboxSpec,
  unknownRepositoriesMessage,
  type Actor,
  type ProfileSpec,
  type Repository,
  type SandboxProvider,
} from "@tandem/core";
import { requireActor } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import { parse, requestLogger } from "../http.ts";
import type { Declare } from "./declare.ts";
import { profileParams } from "./profiles.ts";

/**
 * `POST /api/profiles/:name/draft/test`: runs the draft's setup script in a throwaway sandbox and
 * streams what it prints, so an admin sees it work (or fail) before publishing builds a snapshot.
 */
export function profileTestRoutes(declare: Declare, deps: WebDeps) {
  declare(
    {
      method: "POST",
      url: "/api/profiles/:name/draft/test",
      tag: "profiles",
      produces: "text/plain",
      summary:
        "Run the draft's setup script in a throwaway sandbox; streams its output, ending with [setup script exited with N]",
      responses: {
        200: "the script's stdout and stderr as they arrive",
        400: "the draft has no setup script",
        403: "admins only",
        404: "unknown profile",
        503: "no sandbox provider",
      },
    },
    async (req, reply) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      const { name } = parse(profileParams, req.params, "path");
      const spec = (await getProfileViewOrThrow(deps.database.db, actor.orgId, name)).draft?.spec;
      if (!spec || spec.setupScript.trim() === "")
        throw badRequest("the draft has no setup script");
      if (!deps.sandboxes)
        throw new AppError(
          "sandbox_unavailable",
          "this web process has no sandbox provider configured",
          503,
        );
      const { repositories, unknown } = await findRepositoriesByName(
        deps.database.db,
        actor.orgId,
        spec.repositories.map((r) => r.name),
      );
      if (unknown.length) throw badRequest(unknownRepositoriesMessage(unknown));
      await streamSetupTest(deps, deps.sandboxes, req, reply, {
        actor,
        profile: name,
        spec,
        repositories,
      });
    },
  );
}

async function streamSetupTest(
  deps: WebDeps,
  provider: SandboxProvider,
  req: FastifyRequest,
  reply: FastifyReply,
  run: { actor: Actor; profile: string; spec: ProfileSpec; repositories: Repository[] },
) {
  const { db } = deps.database;
  const testId = randomUUID();
  const log = requestLogger(req, { orgId: run.actor.orgId, setupTestId: testId });
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
    "x-content-type-options": "nosniff",
  });
  const write = (chunk: string | Buffer) => {
    if (!res.writableEnded && !res.destroyed) res.write(chunk);
  };

  // The sandbox goes when the run ends, and as soon as the client goes away mid-run.
  let sandboxId: string | undefined;
  let gone = false;
  let removal: Promise<void> | undefined;
  const remove = () =>
    (removal ??= (async () => {
      if (sandboxId)
        await provider
          .remove(sandboxId)
          .catch((err) => log.warn({ err }, "setup_test.remove_failed"));
      await db
        .update(schema.sandboxes)
        .set({ status: "removed", removedAt: deps.clock.now() })
        .where(eq(schema.sandboxes.id, row!.id));
    })());
  res.on("close", () => {
    if (res.writableFinished) return;
    gone = true;
    log.info("setup_test.client_gone");
    if (sandboxId) void remove();
  });

  const sandboxSpec = setupSandboxSpec(deps.config, run.spec, `tandem-setup-test-${testId}`, {
    "tandem.org": run.actor.orgId,
    "tandem.profile": run.profile,
    "tandem.setup_test": testId,
  });
  const [row] = await db
    .insert(schema.sandboxes)
    .values({ orgId: run.actor.orgId, provider: provider.kind, status: "creating" })
    .returning();
  write(`[starting a sandbox from ${sandboxSpec.image}]\n`);
  try {
    sandboxId = await provider.create(sandboxSpec);
    await db
      .update(schema.sandboxes)
      .set({ externalId: sandboxId, status: "running" })
      .where(eq(schema.sandboxes.id, row!.id));
    if (gone) return;
    await provider.start(sandboxId);
    log.info({ image: sandboxSpec.image }, "setup_test.started");
    // The draft's repositories are cloned where the snapshot build clones them, with a token that
    // answers for them only. The client going away removes the sandbox, which ends the script.
    const { exitCode } = await runSetupScript(
      { db, clock: deps.clock, logger: log, sandboxes: provider },
      {
        sandboxId,
        orgId: run.actor.orgId,
        spec: run.spec,
        repositories: run.repositories,
        controlUrl: sandboxSpec.controlUrl,
        purpose: "setup-test",
        label: `profile ${run.profile} draft`,
      },
      write,
    );
    log.info({ exitCode }, "setup_test.finished");
    write(`\n[setup script exited with ${exitCode}]\n`);
  } catch (err) {
    if (!gone) {
      log.warn({ err }, "setup_test.failed");
      write(`\n[the setup script could not run: ${(err as Error).message}]\n`);
    }
  } finally {
    await remove();
    if (!res.writableEnded) res.end();
  }
}
