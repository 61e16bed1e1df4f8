import { FakeGitHub } from "../fixtures/fake-github.ts";
import { startGitHttpServer } from "../fixtures/git-http-server.ts";
import { APP_ID, APP_SLUG, type appKeys } from "./github.ts";

/** A fake GitHub (listening) that knows Tandem's App by its id, slug and the public half of `keys`. */
export const startFakeGitHubApp = (keys: ReturnType<typeof appKeys>) =>
  new FakeGitHub({ appId: APP_ID, slug: APP_SLUG, publicKey: keys.publicKey }).listen();

/**
 * A git server that lets in what GitHub's does for an App: the user `x-access-token` with an
 * installation token `github` issued and has not expired; each such token goes to `onToken`.
 */
export const startInstallationGitServer = (
  github: FakeGitHub,
  onToken: (token: string) => void = () => {},
) =>
  startGitHttpServer({
    username: "unused",
    password: "unused",
    check: (username, password) => {
      const ok = username === "x-access-token" && Boolean(github.validToken(password));
      if (ok) onToken(password);
      return ok;
    },
  });
