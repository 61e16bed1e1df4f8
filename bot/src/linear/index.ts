import type { ChatProvider, Runtime } from "@tandem/core";
import { linearIntegration } from "./gateway.ts";

/**
 * Linear, so far only for the agent: its GraphQL API through the sandbox gateway with
 * LINEAR_API_KEY (comments get the View session link). Null without a key.
 */
export function linearProvider(rt: Runtime): ChatProvider | null {
  const integration = linearIntegration(rt.config);
  return integration ? { name: "linear", title: "Linear", integration } : null;
}
