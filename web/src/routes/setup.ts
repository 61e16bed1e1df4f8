import { count, eq } from "drizzle-orm";
import { INTEGRATIONS, requireAdmin, schema } from "@tandem/core";
import { requireActor } from "../auth.ts";
import type { WebDeps } from "../deps.ts";
import type { Declare } from "./declare.ts";

/** One thing a new organization still needs before its first session, and where to do it. */
interface SetupStep {
  id: "repository" | "model" | "chat";
  done: boolean;
  title: string;
  detail: string;
  /** The workbench page that fixes it; null when only Tandem's environment can (a restart). */
  href: string | null;
}

/** A provider as Settings lists it: not configured (neutral), configured, or installed here. */
interface ProviderState {
  name: string;
  /** For people; null when this instance does not configure it (the page knows the names). */
  title: string | null;
  configured: boolean;
  /** This org's installations (workspaces, sites, servers) of it. */
  installations: number;
}

/**
 * What the owner's first page walks through: a repository registered, a model key for the
 * agent, and a chat or tracker connected, each with a link to fix it. Only owners and admins
 * can fix these, so only they are asked.
 */
export function setupRoutes(declare: Declare, deps: WebDeps) {
  const { db } = deps.database;
  declare(
    {
      method: "GET",
      url: "/api/setup",
      tag: "orgs",
      summary: "What the organization still needs before its first session, with where to fix each",
      responses: { 200: "the steps", 403: "a member: admins set things up" },
    },
    async (req) => {
      const actor = await requireActor(deps, req);
      requireAdmin(actor);
      // The places sessions start from besides the workbench: the providers that route inbound events.
      const chats = deps.providers.filter((p) => p.inbound);
      const chatNames = chats.map((p) => p.name);
      const [repos] = await db
        .select({ n: count() })
        .from(schema.repositories)
        .where(eq(schema.repositories.orgId, actor.orgId));
      const installations = await db
        .select({ provider: schema.installations.provider })
        .from(schema.installations)
        .where(eq(schema.installations.orgId, actor.orgId));
      const installed = installations.filter((i) => chatNames.includes(i.provider));
      // Every provider Tandem knows, whether this instance configures it and this org installed it.
      const names = [...new Set([...INTEGRATIONS, ...deps.providers.map((p) => p.name)])];
      const providers: ProviderState[] = names.map((name) => {
        const p = deps.providers.find((x) => x.name === name);
        return {
          name,
          title: p?.title ?? null,
          configured: Boolean(p),
          installations: installations.filter((i) => i.provider === name).length,
        };
      });
      const configured = chats.map((p) => p.title);
      const connected = [...new Set(installed.map((i) => i.provider))];
      const titles = new Map(deps.providers.map((p) => [p.name, p.title]));
      const steps: SetupStep[] = [
        {
          id: "repository",
          done: (repos?.n ?? 0) > 0,
          title: "Add a repository",
          detail:
            (repos?.n ?? 0) > 0
              ? `${repos!.n} registered.`
              : "Sessions work in a git repository: register its remote (https or ssh) and, for a private one, a credential.",
          href: "/repositories",
        },
        {
          id: "model",
          done: Boolean(deps.config.MODEL_UPSTREAM_API_KEY),
          title: "Give the agent a model key",
          detail: deps.config.MODEL_UPSTREAM_API_KEY
            ? `The agent calls ${new URL(deps.config.MODEL_UPSTREAM_URL).host} through Tandem's model proxy.`
            : "Set MODEL_UPSTREAM_API_KEY (and MODEL_UPSTREAM_URL for a provider other than OpenAI) in Tandem's environment and restart it. The key stays in Tandem: sandboxes get a per-session token.",
          href: null,
        },
        {
          id: "chat",
          done: connected.length > 0,
          title: "Connect Slack or GitHub",
          detail:
            connected.length > 0
              ? `Connected: ${connected.map((p) => titles.get(p) ?? p).join(", ")}.`
              : configured.length > 0
                ? `${configured.join(", ")} ${configured.length === 1 ? "is" : "are"} configured; install ${configured.length === 1 ? "it" : "one"} for this organization in Settings to start sessions from a mention. The workbench works without.`
                : "Mention the agent from a Slack thread, a GitHub issue, Linear, Jira or Discord: configure one (README, the provider's section), then install it in Settings. The workbench works without.",
          href: "/settings",
        },
      ];
      return { steps, complete: steps.every((s) => s.done), providers };
    },
  );
}
