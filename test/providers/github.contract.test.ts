import { commandAdapter } from "@tandem/core";
import { FakeGitHub } from "../fixtures/fake-github.ts";
import { startGitHttpServer } from "../fixtures/git-http-server.ts";
import {
  APP_ID,
  APP_SLUG,
  appKeys,
  BOT_LOGIN,
  githubAppEnv,
  installGitHubApp,
  issueComment,
  postGitHub,
} from "../helpers/github.ts";
import { startStack } from "../helpers/stack.ts";
import { providerContract, type ContractThread } from "./contract.ts";

const AGENT = ["node", new URL("../fixtures/slack-agent.mjs", import.meta.url).pathname];
const INSTALLATION = 91;
const REPO = "acme/contract";

providerContract("GitHub", async () => {
  const keys = appKeys();
  const fake = await new FakeGitHub({
    appId: APP_ID,
    slug: APP_SLUG,
    publicKey: keys.publicKey,
  }).listen();
  const git = await startGitHttpServer({
    username: "unused",
    password: "unused",
    check: (username, password) => username === "x-access-token" && !!fake.validToken(password),
  });
  git.createRepo(REPO, { "README.md": "# contract\n" });
  fake.installations.set(INSTALLATION, [
    { name: "contract", full_name: REPO, clone_url: git.url(REPO), default_branch: "main" },
  ]);
  fake.setPermission(REPO, "alice", "write");
  const stack = await startStack(
    "postgres",
    { ...githubAppEnv(fake.url, keys.privateKey), SANDBOX_PROVIDER: "local" },
    { agent: commandAdapter(AGENT) },
  );
  await installGitHubApp(stack, { installationId: INSTALLATION, account: "acme", repo: REPO });

  let issues = 100;
  const thread = (): ContractThread => {
    const number = ++issues;
    /** The ids of the comments people (and the bot) wrote here: reactions name them. */
    const written: number[] = [];
    const comment = (body: string, user = "alice") => {
      const payload = issueComment({
        repo: REPO,
        installationId: INSTALLATION,
        number,
        body,
        user,
        ...(user === BOT_LOGIN ? { userType: "Bot" } : {}),
      });
      written.push(payload.comment.id as number);
      return payload;
    };
    const tracking = () =>
      fake.commentsOn(REPO, number).filter((c) => c.body.startsWith("**Tandem**"));
    const post = async (body: string, opts: { deliveryId?: string; secret?: string } = {}) =>
      (await postGitHub(stack.base, "issue_comment", comment(body), opts)).status;
    return {
      key: `${REPO}#${number}`,
      async start(words, delivery = crypto.randomUUID()) {
        return { status: await post(`@${APP_SLUG} ${words}`, { deliveryId: delivery }), delivery };
      },
      followUp: (words) => post(`@${APP_SLUG} ${words}`),
      stop: () => post(`@${APP_SLUG} stop`),
      fromBot: async (words) =>
        (await postGitHub(stack.base, "issue_comment", comment(`@${APP_SLUG} ${words}`, BOT_LOGIN)))
          .status,
      badlySigned: (words) => post(`@${APP_SLUG} ${words}`, { secret: "not-the-webhook-secret" }),
      calls: () =>
        fake.calls.filter(
          (c) =>
            c.path.includes(`/issues/${number}`) ||
            written.some((id) => c.path.includes(`/comments/${id}`)),
        ),
      statusPosts: () => tracking().map((c) => c.body),
      statusEdits: () => tracking().flatMap((c) => c.edits),
      // The failure shows in the tracking comment, edited in place: one comment carries it, however
      // many later renders of that comment repeat it.
      failureReports: (reason) =>
        fake
          .commentsOn(REPO, number)
          .filter((c) => c.body.includes(reason))
          .map((c) => c.body),
    };
  };

  return {
    provider: "github",
    stack,
    thread,
    async close() {
      await stack.close();
      await git.close();
      await fake.close();
    },
  };
});
