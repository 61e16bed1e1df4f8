export { buildApp } from "./app.ts";
export { createEgressProxy } from "./gateway/egress-proxy.ts";
export type { GatewayIdentity, IntegrationInterceptor } from "./gateway/types.ts";
export { startSandboxGateway, type SandboxGateway } from "./gateway/gateway.ts";
