import type { FastifyInstance } from "fastify";
import { githubGitCredentials } from "@tandem/bot";
import {
  credentialRequestMatches, formatGitCredential, parseGitCredentialRequest, repositoriesForGrant, repositoryCredential,
} from "@tandem/core";
import type { WebDeps } from "../deps.ts";
import { requestLogger } from "../http.ts";
import { requireSandboxGrant } from "../sandbox-auth.ts";

/**
 * Answers the sandbox's git credential helper (`get` in git's credential protocol) with the
 * stored credential of the token's repository whose clone URL git is fetching (a session's, or a
 * build token's list); 404 otherwise, which git treats as "this helper knows nothing".
 */
export function sandboxGitRoutes(app: FastifyInstance, deps: WebDeps) {
  // Repositories installed through the GitHub App get a fresh, narrowed installation token instead.
  const github = githubGitCredentials({ config: deps.config, db: deps.database.db, logger: deps.logger, clock: deps.clock });
  void app.register(async (scope) => {
    // The helper posts git's `key=value` text; curl may label it anything.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string", bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

    scope.post("/sandbox/git-credential", async (req, reply) => {
      const grant = await requireSandboxGrant(deps, req);
      const log = requestLogger(req, grant.sessionId ? { sessionId: grant.sessionId } : { orgId: grant.orgId, purpose: grant.purpose });
      const request = parseGitCredentialRequest(typeof req.body === "string" ? req.body : "");
      if (!request) return reply.code(400).type("text/plain").send("expected git credential fields protocol= and host=\n");

      const candidates = (await repositoriesForGrant(deps.database.db, grant))
        .filter((repo) => (repo.credentialEncrypted !== null || (github && repo.installationId !== null))
          && credentialRequestMatches(request, repo.cloneUrl));
      // Without a path git could mean any of them; guessing would hand out the wrong secret.
      const repo = candidates.length === 1 || request.path !== undefined ? candidates[0] : undefined;
      const credential = !repo ? null
        : github && repo.installationId ? await github(grant, repo)
        : repositoryCredential(deps.config.ENCRYPTION_KEY, repo);
      if (!repo || !credential) {
        log.info({ protocol: request.protocol, host: request.host, path: request.path }, "git_credential.no_match");
        return reply.code(404).send();
      }
      log.info({ repositoryId: repo.id, repository: repo.name, host: request.host }, "git_credential.granted");
      return reply.type("text/plain; charset=utf-8").send(formatGitCredential(credential));
    });
  });
}
