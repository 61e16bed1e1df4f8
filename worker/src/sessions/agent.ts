import { eq } from "drizzle-orm";
import {
  getAgentAdapter,
  schema,
  storedSpec,
  type AgentAdapter,
  type ReasoningEffort,
  type Session,
} from "@tandem/core";
import type { RunnerDeps } from "./deps.ts";

export interface SessionAgent {
  adapter: AgentAdapter;
  model: string;
  reasoningEffort?: ReasoningEffort;
}

/**
 * The agent a session's turns run: its profile version's `agent` settings (kind, model,
 * reasoning effort, the command's argv), AGENT / AGENT_MODEL where the version sets none. The
 * worker's explicit adapter (tests) replaces the kind, not the model settings.
 */
export async function sessionAgent(
  deps: RunnerDeps,
  session: Pick<Session, "profileVersionId">,
): Promise<SessionAgent> {
  const version = session.profileVersionId
    ? await deps.rt.database.db.query.sandboxProfileVersions.findFirst({
        where: eq(schema.sandboxProfileVersions.id, session.profileVersionId),
      })
    : undefined;
  const agent = version ? storedSpec(version.spec).agent : undefined;
  return {
    adapter:
      deps.agent ??
      getAgentAdapter(agent?.kind ?? deps.rt.config.AGENT, { command: agent?.command }),
    model: agent?.model ?? deps.rt.config.AGENT_MODEL,
    ...(agent?.reasoningEffort ? { reasoningEffort: agent.reasoningEffort } : {}),
  };
}
