import type { FastifyInstance, FastifyRequest } from "fastify";
import type { InboundEvent } from "../inbox/inbox.ts";
import type { Logger } from "../logger.ts";
import type { Repository } from "../repositories/service.ts";
import type { IntegrationProvider } from "./integration.ts";

/** What the web app lends a provider's routes: who may install or administer it. */
export interface ProviderWebAccess {
  /** The org the signed-in owner or admin acts for; throws (401/403) for anyone else. */
  adminOrg(req: FastifyRequest): Promise<string>;
  /** Whether the caller is an owner or admin of the default organization (the instance's operators). */
  adminsDefaultOrg(req: FastifyRequest): Promise<boolean>;
}

/** A git credential for a repository's real remote (Basic auth). */
export interface GitCredential {
  username: string;
  password: string;
}

/**
 * Pull requests on the repositories a provider hosts (GitHub, through its App installation), for
 * sessions bound to another provider (a Linear issue): after the work is pushed, the worker asks
 * the host to open or refresh the session's pull request, which it records on the session.
 */
interface PullRequestHost {
  hosts(repo: Repository): boolean;
  open(sessionId: string, log: Logger): Promise<void>;
}

/** A long-lived connection a provider keeps open (Slack Socket Mode, a Discord gateway). */
export interface ProviderConnection {
  close(): Promise<void>;
}

/**
 * One place people start and follow sessions from (Slack, GitHub, …), as the rest of Tandem sees
 * it. Every part is optional: a provider has the parts its configuration sets up, and the web
 * app, the worker and the bot loop over the list `createProviders` (bot/src/providers.ts)
 * returns, never naming one. Inside, a provider is free; the generic pieces it builds on live in
 * core (`ProviderOutbox`, `followBoundSessions`, `loadSessionStatus`, `outboundRecord`).
 *
 * The life of a mention through it: `routes` verifies the webhook on its raw body and commits it
 * to the inbox; the worker hands each inbox row to `inbound`, which starts a session (with its
 * binding, in one transaction), continues, stops or ignores; `follow` watches the session's
 * events and queues outbound jobs, which the worker hands to `outbound` to render and send.
 */
export interface ChatProvider {
  /** The name in bindings, inbox rows and outbound jobs ("slack"). */
  readonly name: string;
  /** For people: "Slack". */
  readonly title: string;
  /** Webhooks, installs and OAuth callbacks, registered on the web app in their own scope. */
  routes?(app: FastifyInstance, access: ProviderWebAccess): Promise<void>;
  /** Routes one committed inbound event to start / follow-up / stop / ignore. Throwing retries it. */
  inbound?(event: InboundEvent, log: Logger): Promise<void>;
  /** Performs one outbound job this provider queued (post, edit, react). */
  outbound?(job: unknown, log: Logger): Promise<void>;
  /**
   * Reports bound sessions into their origin (one status message edited in place, the summary,
   * failures), catching up from the event log every `catchUpMs`; resolves to the stop function.
   */
  follow?(opts: { catchUpMs: number }): Promise<() => Promise<void>>;
  /** Opens the provider's long-lived connection, if its configuration asks for one (the bot process). */
  connect?(): Promise<ProviderConnection | null>;
  /** The link back to a binding's origin (thread, issue, ticket), from its thread key alone. */
  originUrl?(threadKey: string): string | null;
  /**
   * Sessions bound here leave as commits on a pushed branch, and as a pull request: opened by this
   * provider when it hosts the repository, else by the provider that does (`pullRequests`).
   */
  readonly publishes?: boolean;
  readonly pullRequests?: PullRequestHost;
  /**
   * The credential for a repository reached through this provider (a GitHub App installation),
   * for the sandbox's git remote; null when the repository is not this provider's.
   */
  gitCredential?(
    grant: { orgId: string; repositoryIds: string[] },
    repo: Repository,
  ): Promise<GitCredential | null>;
  /** The agent's calls to this provider's API through the sandbox gateway, with Tandem's credential. */
  readonly integration?: IntegrationProvider;
}

/** The provider a binding or job names, if it is configured. */
export const providerNamed = (providers: readonly ChatProvider[], name: string) =>
  providers.find((p) => p.name === name);
