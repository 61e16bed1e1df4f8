import type { FastifyInstance } from "fastify";
import { issueSandboxToken } from "@tandem/core";
import { buildApp, startSandboxGateway, type SandboxGateway } from "@tandem/web";
import { apiClient, ownerToken } from "./api.ts";
import type { TestRuntime } from "./runtime.ts";

/** The sandbox gateway on a test runtime, and the sandbox token of a new session (its repository is never fetched). */
export async function startGatewayWithSession(
  rt: TestRuntime,
): Promise<{ app: FastifyInstance; gateway: SandboxGateway; token: string }> {
  const app = await buildApp(rt);
  const gateway = await startSandboxGateway(rt);
  const owner = apiClient(app, await ownerToken(rt));
  await owner.request("POST", "/api/repositories", {
    name: "acme/app",
    cloneUrl: "https://git.example.test/acme/app.git",
  });
  const session = await owner.request("POST", "/api/sessions", {
    repository: "acme/app",
    prompt: "hi",
  });
  return { app, gateway, token: await issueSandboxToken(rt.database.db, session.body.id) };
}
