import type { ChatProvider, Runtime } from "@tandem/core";
import { jiraIntegration } from "./gateway.ts";

/**
 * Jira, so far only for the agent: the site's REST API through the sandbox gateway as
 * JIRA_EMAIL with JIRA_API_TOKEN (comments get the View session link). Null unless configured.
 */
export function jiraProvider(rt: Runtime): ChatProvider | null {
  const integration = jiraIntegration(rt.config);
  return integration ? { name: "jira", title: "Jira", integration } : null;
}
