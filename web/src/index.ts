export { buildApp } from "./app.ts";
export type { WebDeps } from "./deps.ts";
export {
  createEgressProxy,
  type EgressProxyDeps,
  type EgressProxyOptions,
} from "./gateway/egress-proxy.ts";
export type { GatewayIdentity, IntegrationInterceptor } from "./gateway/types.ts";
export { startSandboxGateway, type SandboxGateway } from "./gateway/gateway.ts";
