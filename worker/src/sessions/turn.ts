import { and, asc, eq, isNull, sql } from "drizzle-orm";
import {
  appendEvents,
  execCollect,
  GATEWAY_PROXY_PORT,
  gatewayWait,
  runSandboxSteps,
  sandboxCommandEnv,
  schema,
  shellQuote,
  type AgentOutput,
  type Session,
  type SessionEventBody,
} from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";
import type { SessionAgent } from "./agent.ts";
import type { ActiveSandbox } from "./sandbox.ts";

export type Turn = typeof schema.sessionTurns.$inferSelect;
export type TurnEnd = "completed" | "failed" | "interrupted" | "vanished";

const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Starts the agent for the session's oldest unconsumed message, detached inside the sandbox:
 * its output goes to a file there, so the agent outlives this worker. Returns null when there
 * is no message to answer.
 */
export async function startTurn(
  deps: RunnerDeps,
  session: Session,
  sandbox: ActiveSandbox,
  agent: SessionAgent,
): Promise<Turn | null> {
  const { db } = deps.rt.database;
  const message = await db.query.sessionMessages.findFirst({
    where: and(
      eq(schema.sessionMessages.sessionId, session.id),
      isNull(schema.sessionMessages.consumedAt),
    ),
    orderBy: asc(schema.sessionMessages.createdAt),
  });
  if (!message) return null;
  const [{ n }] = (await db
    .select({ n: sql<number>`count(*)::int` })
    .from(schema.sessionTurns)
    .where(eq(schema.sessionTurns.sessionId, session.id))) as [{ n: number }];
  const number = n + 1;
  const base = `${sandbox.layout.state}/turns/${number}`;
  const command = agent.adapter.buildTurn({
    sessionId: session.id,
    prompt: message.text,
    resumeId: session.agentThreadId ?? undefined,
    model: agent.model,
    reasoningEffort: agent.reasoningEffort,
    workdir: sandbox.workdir,
    homeDir: `${sandbox.layout.state}/agent-home`,
    modelBaseUrl: `${sandbox.controlUrl}/proxy/model/v1`,
    modelToken: sandbox.token,
  });
  const [turn] = await db.transaction(async (tx) => {
    await tx
      .update(schema.sessionMessages)
      .set({ consumedAt: deps.rt.clock.now() })
      .where(eq(schema.sessionMessages.id, message.id));
    return tx
      .insert(schema.sessionTurns)
      .values({
        sessionId: session.id,
        number,
        messageId: message.id,
        outputPath: `${base}.jsonl`,
      })
      .returning();
  });
  // One exec writes the turn's files and starts the agent: `setsid` detaches it from the exec,
  // and `.exit` appears only once the output is complete. The agent waits for the gateway's
  // proxy, which the checkout did not need (a failure to start it is the turn's stderr).
  const agentLine = `${gatewayWait([GATEWAY_PROXY_PORT])} && cd ${shellQuote(sandbox.workdir)} && exec ${command.argv.map(shellQuote).join(" ")}`;
  const script =
    `(${agentLine}) < ${shellQuote(`${base}.stdin`)} > ${shellQuote(`${base}.jsonl`)} 2> ${shellQuote(`${base}.stderr`)}; ` +
    `echo $? > ${shellQuote(`${base}.exit.tmp`)} && mv ${shellQuote(`${base}.exit.tmp`)} ${shellQuote(`${base}.exit`)}`;
  const steps = [["sh", "-c", `setsid sh -c ${shellQuote(script)} > /dev/null 2>&1 < /dev/null &`]];
  const env = { ...sandboxCommandEnv(sandbox.layout), ...command.env };
  const files = [...command.files, { path: `${base}.stdin`, content: command.stdin ?? "" }];
  const launched = sandbox.launcher
    ? await sandbox.launcher.run(steps, env, files)
    : await runSandboxSteps(deps.sandboxes, sandbox.id, steps, env, files);
  if (launched.exitCode !== 0)
    throw new Error(`could not start the agent: ${launched.stderr.trim()}`);
  return turn!;
}

/**
 * Follows a running turn from its stored offset until the agent exits, the session is stopped,
 * or the sandbox disappears. Events and the new offset are committed together.
 */
export async function followTurn(
  deps: RunnerDeps,
  sessionId: string,
  sandbox: { id: string; workdir: string },
  turn: Turn,
  agent: SessionAgent,
): Promise<TurnEnd> {
  const sandboxId = sandbox.id;
  const { db } = deps.rt.database;
  const parser = agent.adapter.createParser();
  const log = deps.rt.logger.child({ sessionId, turn: turn.number });
  let offset = turn.outputOffset;
  let failure: string | undefined;
  for (;;) {
    const session = await db.query.sessions.findFirst({ where: eq(schema.sessions.id, sessionId) });
    if (!session || session.status === "stopped" || session.status === "failed") {
      await finishTurn(deps, turn, "interrupted", null);
      return "interrupted";
    }
    const read = await readOutput(deps, sandboxId, turn, offset).catch(async (err) => {
      if ((await deps.sandboxes.inspect(sandboxId)).state === "running") throw err;
      return null; // the sandbox stopped or vanished under the turn
    });
    if (!read) {
      await finishTurn(deps, turn, "failed", null);
      return "vanished";
    }
    const { exited, bytes } = read;
    const end = bytes.lastIndexOf(0x0a) + 1; // only whole lines; a partial one waits for the next read
    if (end > 0) {
      const outputs = bytes
        .subarray(0, end)
        .toString("utf8")
        .split("\n")
        .flatMap((line) => parser.push(line));
      const next = offset + end;
      failure =
        outputs.find(
          (o): o is Extract<AgentOutput, { kind: "turn_failed" }> => o.kind === "turn_failed",
        )?.message ?? failure;
      await commitOutput(deps, turn, outputs, next, sandbox.workdir);
      offset = next;
      log.debug({ offset, outputs: outputs.length }, "turn.output");
      if (bytes.length === READ_CHUNK_BYTES) continue; // more is waiting
    }
    if (exited !== null && end === 0) {
      const status = exited === 0 && !failure ? "completed" : "failed";
      if (status === "failed" && !failure)
        await reportStderr(deps, sessionId, sandboxId, turn, exited);
      await finishTurn(deps, turn, status, exited);
      return status;
    }
    await new Promise((r) => setTimeout(r, deps.pollMs));
  }
}

/**
 * A changed file as people read it: relative to the checkout. Agents report absolute paths
 * (Codex does), which would show the sandbox's layout and not match the diff's paths.
 */
function inCheckout(body: SessionEventBody, workdir: string): SessionEventBody {
  const prefix = `${workdir.replace(/\/$/, "")}/`;
  return body.type === "file_change" && body.path.startsWith(prefix)
    ? { ...body, path: body.path.slice(prefix.length) }
    : body;
}

async function commitOutput(
  deps: RunnerDeps,
  turn: Turn,
  outputs: AgentOutput[],
  offset: number,
  workdir: string,
) {
  const bodies: SessionEventBody[] = outputs.flatMap((o) =>
    o.kind === "event" ? [inCheckout(o.body, workdir)] : [],
  );
  const thread = outputs.find(
    (o): o is Extract<AgentOutput, { kind: "thread" }> => o.kind === "thread",
  );
  const { db, ...rest } = { db: deps.rt.database.db, bus: deps.rt.bus, logger: deps.rt.logger };
  await appendEvents({ db, ...rest }, turn.sessionId, bodies, async (tx) => {
    await tx
      .update(schema.sessionTurns)
      .set({ outputOffset: offset })
      .where(eq(schema.sessionTurns.id, turn.id));
    if (thread)
      await tx
        .update(schema.sessions)
        .set({ agentThreadId: thread.id })
        .where(eq(schema.sessions.id, turn.sessionId));
  });
}

/**
 * One exec per poll: the exit code (once the agent has ended) on the first line, then up to
 * READ_CHUNK_BYTES of output after `offset`.
 */
async function readOutput(deps: RunnerDeps, sandboxId: string, turn: Turn, offset: number) {
  const r = await execCollect(deps.sandboxes, sandboxId, [
    "sh",
    "-c",
    `cat "$1" 2>/dev/null || echo; tail -c +${offset + 1} "$2" 2>/dev/null | head -c ${READ_CHUNK_BYTES}`,
    "sh",
    turn.outputPath.replace(/\.jsonl$/, ".exit"),
    turn.outputPath,
  ]);
  if (r.exitCode !== 0) throw new Error(`reading the agent's output failed: ${r.stderr.trim()}`);
  const newline = r.stdout.indexOf("\n");
  const status = r.stdout.slice(0, newline).trim();
  return {
    exited: /^\d+$/.test(status) ? Number(status) : null,
    bytes: Buffer.from(r.stdout.slice(newline + 1), "utf8"),
  };
}

async function reportStderr(
  deps: RunnerDeps,
  sessionId: string,
  sandboxId: string,
  turn: Turn,
  exitCode: number,
) {
  const r = await execCollect(deps.sandboxes, sandboxId, [
    "tail",
    "-c",
    "2000",
    turn.outputPath.replace(/\.jsonl$/, ".stderr"),
  ]);
  const message = `the agent exited with code ${exitCode}${r.stdout.trim() ? `: ${r.stdout.trim().split("\n").slice(-5).join("\n")}` : ""}`;
  await appendEvents(
    { db: deps.rt.database.db, bus: deps.rt.bus, logger: deps.rt.logger },
    sessionId,
    [{ type: "error", message }],
  );
}

async function finishTurn(
  deps: RunnerDeps,
  turn: Turn,
  status: Turn["status"],
  exitCode: number | null,
) {
  await deps.rt.database.db
    .update(schema.sessionTurns)
    .set({ status, exitCode, endedAt: deps.rt.clock.now() })
    .where(and(eq(schema.sessionTurns.id, turn.id), eq(schema.sessionTurns.status, "running")));
}
