import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execCollect, SETUP_BLOCK_BEGIN } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  sessionEvents,
  startGitServer,
  waitFirstTurn,
  type TestGit,
} from "../helpers/e2e.ts";
import { finishedSnapshot, removeImages, snapshotImageRefs } from "../helpers/profiles.ts";
import { startStack, type Stack } from "../helpers/stack.ts";

const skip = !dockerAvailable();
const LOCKFILE = '{ "lockfileVersion": 3 }\n';

describe.skipIf(skip)(
  "files the profile's setup script created, in a session on its snapshot",
  () => {
    let git: TestGit;
    let model: ModelServer;
    let s: Stack;

    beforeAll(async () => {
      git = await startGitServer(
        { username: "u", password: "test-git-password-setup-files" },
        {
          "acme/app": {
            "README.md": "# app\n",
            "hello.txt": "hello\n",
            "package-lock.json": LOCKFILE,
            ".gitignore": "*.log\n",
          },
        },
      );
      model = await new ModelServer([
        {
          applyPatch: [
            "*** Begin Patch",
            "*** Update File: hello.txt",
            "@@",
            "-hello",
            "+hello, world",
            "*** Add File: agent-notes.txt",
            "+by the agent",
            "*** End Patch",
            "",
          ].join("\n"),
        },
        { message: "Updated hello.txt." },
      ]).listen();
      s = await startStack("postgres", dockerModelEnv(model));
      await registerRepository(s, git, "acme/app");
    }, 60_000);
    afterAll(async () => {
      const images = await snapshotImageRefs(s);
      await s?.close();
      await model?.close();
      await git?.close();
      removeImages(images);
    });

    it("lists the agent's work in Changes and diff stats, and none of the setup script's files", async () => {
      expect((await s.owner.request("POST", "/api/profiles", { name: "node" })).status).toBe(201);
      const spec = {
        repositories: [{ name: "acme/app", primary: true }],
        agent: { kind: "codex" },
        setupScript: [
          "set -e",
          "cd acme/app",
          "mkdir -p node_modules/dep && echo 'module.exports = 1' > node_modules/x.js",
          "echo 'nested' > node_modules/dep/index.js",
          "echo generated > generated.txt",
          "echo 'API=http://localhost' > .env.local",
          "echo 'install log' > npm-debug.log",
          // A tracked file rewritten, as `npm install` may do to a lockfile.
          'echo "rewritten by install" >> package-lock.json',
        ].join("\n"),
      };
      expect((await s.owner.request("PUT", "/api/profiles/node/draft", { spec })).status).toBe(200);
      expect((await s.owner.request("POST", "/api/profiles/node/publish")).status).toBe(202);
      const snapshot = await finishedSnapshot(s, "node", 120_000);
      expect(snapshot, snapshot.log).toMatchObject({ status: "ready" });
      // Directories collapsed as git status shows them; the ignored log and the tracked lockfile not named.
      expect(snapshot.log).toContain(
        "not counted as sessions' changes in acme/app (created by the setup script, listed in .git/info/exclude): .env.local, generated.txt, node_modules/\n",
      );
      const inImage = spawnSync(
        "docker",
        [
          "run",
          "--rm",
          "--network",
          "none",
          "--entrypoint",
          "cat",
          snapshot.imageRef,
          "/workspace/acme/app/.git/info/exclude",
        ],
        { encoding: "utf8" },
      );
      expect(inImage.stdout).toContain(
        `${SETUP_BLOCK_BEGIN}\n/.env.local\n/generated.txt\n/node_modules/\n`,
      );

      const created = await s.owner.request("POST", "/api/sessions", {
        prompt: "Update hello.txt",
        profile: "node",
      });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      await waitFirstTurn(s, id);

      const changes = await s.owner.request("GET", `/api/sessions/${id}/changes`);
      expect(changes.status).toBe(200);
      expect(changes.body.files.map((f: { path: string }) => f.path).sort()).toEqual([
        "agent-notes.txt",
        "hello.txt",
      ]);
      expect(changes.body.totals).toEqual({ files: 2, added: 2, removed: 1 });
      const stats = (await sessionEvents(s, id)).filter((e) => e.type === "diff_stat");
      expect(
        (stats.at(-1)?.data as { files: Array<{ path: string }> }).files.map((f) => f.path).sort(),
      ).toEqual(["agent-notes.txt", "hello.txt"]);

      // Hidden from the work, not removed from the environment; the lockfile is back as committed.
      const sandbox = await sandboxOf(s, id);
      const inSandbox = await execCollect(s.sandboxes, sandbox!.externalId!, [
        "sh",
        "-c",
        "cd /workspace/acme/app && cat node_modules/x.js generated.txt .env.local package-lock.json && git status --porcelain",
      ]);
      expect(inSandbox.stdout).toBe(
        `module.exports = 1\ngenerated\nAPI=http://localhost\n${LOCKFILE} M hello.txt\n?? agent-notes.txt\n`,
      );
      await s.owner.request("POST", `/api/sessions/${id}/stop`);
    }, 300_000);
  },
);
