import type { Duplex } from "node:stream";
import type { Integration, NetworkPolicy, SandboxGrant } from "@tandem/core";

/**
 * Who is on the other end of a gateway connection: the sandbox token the in-sandbox forwarder
 * presented, what it grants, and the network policy of the sandbox's profile version.
 */
export interface GatewayIdentity {
  grant: SandboxGrant;
  policy: NetworkPolicy;
  /** "profile node v3" (or "profile node draft"), for messages the agent reads. */
  profileLabel: string;
  /**
   * The profile version's `spec.integrations`: the integration hosts the gateway serves with
   * Tandem's credentials. Absent: none (their hosts fall to the policy).
   */
  integrations?: readonly Integration[];
}

/**
 * Terminates TLS for an integration host (GitHub, Slack, Linear, Jira) and serves the requests
 * inside with the real credential injected. The egress proxy hands it CONNECT tunnels (and the
 * transparent listener raw sockets) for the hosts it `handles`.
 */
export interface IntegrationInterceptor {
  /** Whether `host` (lower case, no port) is an integration host this identity's profile exposes. */
  handles(host: string, identity: GatewayIdentity): boolean;
  /** Takes over `socket` (TLS from the client starts on it) for requests to `host`. */
  serve(socket: Duplex, host: string, identity: GatewayIdentity): void;
}
