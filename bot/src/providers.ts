import type { ChatProvider, Runtime } from "@tandem/core";
import { discordProvider } from "./discord/index.ts";
import { githubProvider } from "./github/index.ts";
import { jiraProvider } from "./jira/index.ts";
import { linearProvider } from "./linear/index.ts";
import { slackProvider } from "./slack/index.ts";

/**
 * The one place that names the providers: those the configuration sets up, for the entry points
 * to hand to the web app, the worker and the bot. Adding a provider is its folder and a line here.
 */
export function createProviders(rt: Runtime): ChatProvider[] {
  return [
    slackProvider(rt),
    githubProvider(rt),
    linearProvider(rt),
    jiraProvider(rt),
    discordProvider(rt),
  ].filter((p): p is ChatProvider => p !== null);
}
