import { AgentActivitySignal, type LinearClient } from "@linear/sdk";
import { and, eq } from "drizzle-orm";
import {
  clip,
  eventRowBody,
  findBinding,
  loadTurnResult,
  outboundRecord,
  schema,
  sessionUrl,
  unwrapShell,
  type Clock,
  type Db,
  type Logger,
  type SessionEventBody,
  type TurnResult,
} from "@tandem/core";
import { linearCall, type LinearWorkspaces } from "./client.ts";
import { createdEvent } from "./inbox.ts";
import { PROVIDER, type LinearSettings } from "./config.ts";
import type { LinearOutboundJob } from "./outbox.ts";

export interface LinearOutboundDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  workspaces: LinearWorkspaces;
  settings: LinearSettings;
}

type ActivityContent =
  | { type: "thought" | "response" | "elicitation" | "error"; body: string }
  | { type: "action"; action: string; parameter: string; result?: string };

/** Commands that only look around: shown as ephemeral actions (the next activity replaces them). */
const ROUTINE =
  /^(cat|ls|head|tail|grep|rg|find|pwd|wc|tree|file|stat|echo|sed -n|git (status|diff|log|show|branch))\b/;
/** Plan steps as Linear's session plan shows them. */
const PLAN_STATUS = (done: boolean, current: boolean) =>
  done ? "completed" : current ? "inProgress" : "pending";

/** The action activity for a command or an edit; null for other events. */
function stepActivity(
  body: SessionEventBody,
): { content: ActivityContent; ephemeral: boolean } | null {
  if (body.type === "command") {
    const command = unwrapShell(body.command);
    const output = body.output?.trim();
    const failed = typeof body.exitCode === "number" && body.exitCode !== 0;
    return {
      content: {
        type: "action",
        action: failed ? `Ran (exit ${body.exitCode})` : "Ran",
        parameter: clip(command.split("\n")[0]!, 200),
        ...(output ? { result: `\`\`\`\n${clip(output, 1_500)}\n\`\`\`` } : {}),
      },
      ephemeral: !failed && ROUTINE.test(command),
    };
  }
  if (body.type === "file_change") {
    const verb = body.kind === "add" ? "Created" : body.kind === "delete" ? "Deleted" : "Edited";
    return { content: { type: "action", action: verb, parameter: body.path }, ephemeral: false };
  }
  return null;
}

/** The turn's end as one activity: the summary (or a question back), the failure, or the stop. */
function finalActivity(
  status: string,
  result: TurnResult,
  s: { url: string; error: string | null; pullRequestUrl: string | null },
): ActivityContent {
  const link = `[View session](${s.url})`;
  if (status === "failed")
    return { type: "error", body: `The session failed: ${s.error ?? "unknown error"}\n\n${link}` };
  if (status === "stopped") return { type: "response", body: `Stopped.\n\n${link}` };
  if (result.failed) {
    const why = result.problems.at(-1) ?? "the agent stopped with an error";
    return { type: "error", body: `The turn failed: ${clip(why, 1_000)}\n\n${link}` };
  }
  const said = result.said.trim();
  const lines = [said ? clip(said, 8_000) : "Done."];
  const files = result.files ?? [];
  if (files.length) {
    const added = files.reduce((n, f) => n + f.added, 0);
    const removed = files.reduce((n, f) => n + f.removed, 0);
    lines.push(
      `**${files.length} file${files.length === 1 ? "" : "s"} changed** (+${added} −${removed})`,
      ...files.slice(0, 20).map((f) => `- \`${f.path}\` +${f.added} −${f.removed}`),
    );
    if (files.length > 20) lines.push(`- … and ${files.length - 20} more`);
  }
  for (const p of result.problems.slice(-3)) lines.push(`> ⚠️ ${clip(p, 300)}`);
  if (s.pullRequestUrl) lines.push(`Pull request: ${s.pullRequestUrl}`);
  lines.push(link);
  // The agent's last words ask something: the session waits for the person's answer.
  const asks = /\?\s*$/.test(said.split("\n").filter(Boolean).at(-1) ?? "");
  return { type: asks ? "elicitation" : "response", body: lines.join("\n\n") };
}

/** Performs one outbound job against Linear's API. */
export function createLinearOutbound(deps: LinearOutboundDeps) {
  const { db } = deps;
  const activity = (
    client: LinearClient,
    agentSessionId: string,
    content: ActivityContent,
    opts: { ephemeral?: boolean } = {},
  ) =>
    linearCall(() =>
      client.createAgentActivity({
        agentSessionId,
        content,
        ...(opts.ephemeral ? { ephemeral: true } : {}),
      }),
    );
  /** The session's agent session, and a client for its org's workspace. */
  const agentSessionOf = async (sessionId: string) => {
    const binding = await findBinding(db, sessionId, PROVIDER);
    const session = binding
      ? await db.query.sessions.findFirst({
          where: eq(schema.sessions.id, sessionId),
          columns: { orgId: true },
        })
      : null;
    if (!binding || !session) return null;
    return {
      agentSessionId: binding.threadKey,
      client: await deps.workspaces.client({ orgId: session.orgId }),
    };
  };
  const eventAt = async (sessionId: string, seq: number) => {
    const row = await db.query.sessionEvents.findFirst({
      where: and(eq(schema.sessionEvents.sessionId, sessionId), eq(schema.sessionEvents.seq, seq)),
    });
    return row ? eventRowBody(row) : null;
  };

  /** An issue not yet started moves to its team's first `started` state. */
  const moveToStarted = async (client: LinearClient, issueId: string, log: Logger) => {
    const issue = await linearCall(() => client.issue(issueId));
    const state = await linearCall(async () => issue.state);
    if (state && ["started", "completed", "canceled"].includes(state.type)) return;
    const team = await linearCall(async () => issue.team);
    if (!team) return;
    const states = await linearCall(() => team.states());
    const started = states.nodes
      .filter((s) => s.type === "started")
      .sort((a, b) => a.position - b.position)[0];
    if (!started) return log.info({ issueId }, "linear.no_started_state");
    await linearCall(() => client.updateIssue(issueId, { stateId: started.id }));
    log.info({ issueId, state: started.name }, "linear.issue_started");
  };

  return async function handle(job: LinearOutboundJob, log: Logger): Promise<void> {
    switch (job.op) {
      case "thought": {
        const client = await deps.workspaces.client({ workspaceId: job.workspaceId });
        await activity(client, job.agentSessionId, { type: "thought", body: job.body });
        return;
      }
      case "say": {
        const client = await deps.workspaces.client({ workspaceId: job.workspaceId });
        await linearCall(() =>
          client.createAgentActivity({
            agentSessionId: job.agentSessionId,
            content: { type: job.kind, body: job.body },
            ...(job.options?.length
              ? {
                  signal: AgentActivitySignal.Select,
                  signalMetadata: { options: job.options.map((value) => ({ value })) },
                }
              : {}),
          }),
        );
        return;
      }
      case "link": {
        const client = await deps.workspaces.client({ workspaceId: job.workspaceId });
        const url = sessionUrl(deps.settings.publicUrl, job.sessionId);
        await linearCall(() =>
          client.updateAgentSession(job.agentSessionId, {
            externalUrls: [{ label: "View session", url }],
          }),
        );
        if (deps.settings.moveToStarted && job.issueId)
          await moveToStarted(client, job.issueId, log);
        return;
      }
      case "step": {
        const bound = await agentSessionOf(job.sessionId);
        const body = bound ? await eventAt(job.sessionId, job.seq) : null;
        const step = body ? stepActivity(body) : null;
        if (!bound || !step) return;
        await activity(bound.client, bound.agentSessionId, step.content, {
          ephemeral: step.ephemeral,
        });
        return;
      }
      case "plan": {
        const bound = await agentSessionOf(job.sessionId);
        const body = bound ? await eventAt(job.sessionId, job.seq) : null;
        if (!bound || body?.type !== "plan") return;
        const current = body.steps.findIndex((s) => !s.done);
        const plan = body.steps.map((s, i) => ({
          content: clip(s.text, 200),
          status: PLAN_STATUS(s.done, i === current),
        }));
        await linearCall(() => bound.client.updateAgentSession(bound.agentSessionId, { plan }));
        return;
      }
      case "final": {
        const bound = await agentSessionOf(job.sessionId);
        if (!bound) return;
        const { agentSessionId } = bound;
        const key = {
          sessionId: job.sessionId,
          provider: PROVIDER,
          kind: `final-${job.seq}`,
          target: agentSessionId,
        };
        if (await outboundRecord.find(db, key)) return;
        const session = await db.query.sessions.findFirst({
          where: eq(schema.sessions.id, job.sessionId),
        });
        if (!session) return;
        const content = finalActivity(
          job.status,
          await loadTurnResult(db, job.sessionId, job.seq),
          {
            url: sessionUrl(deps.settings.publicUrl, job.sessionId),
            error: session.error,
            pullRequestUrl: session.pullRequestUrl,
          },
        );
        // The pull request shows on the issue too (its attachment), before the answer that names it.
        const issueId = session.pullRequestUrl
          ? (await createdEvent(db, agentSessionId))?.issue?.id
          : undefined;
        if (issueId && session.pullRequestUrl)
          await linearCall(() =>
            bound.client.createAttachment({
              issueId,
              url: session.pullRequestUrl!,
              title: "Pull request",
              subtitle: "Opened by Tandem",
            }),
          );
        const sent = await activity(bound.client, agentSessionId, content);
        await outboundRecord.remember(db, deps.clock, key, sent.agentActivityId ?? "");
        return;
      }
    }
  };
}
