import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLogger,
  excludeSetupFiles,
  LocalSandboxProvider,
  SETUP_BLOCK_BEGIN,
  SETUP_BLOCK_END,
} from "@tandem/core";

/** git without the machine's or the user's configuration. */
const GIT_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.test",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.test",
};

describe("excludeSetupFiles on a real checkout (local sandbox)", () => {
  let baseDir: string;
  let sandboxes: LocalSandboxProvider;
  let id: string;
  let dir: string;
  const git = (...args: string[]) =>
    execFileSync("git", ["-C", dir, ...args], { env: GIT_ENV, encoding: "utf8" });
  const write = (file: string, content = "x\n") => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  };
  const exclude = () => readFileSync(path.join(dir, ".git/info/exclude"), "utf8");
  /** What `git add -A` would take: the paths `git status` shows. */
  const status = () => git("status", "--porcelain", "--untracked-files=all");

  beforeAll(async () => {
    baseDir = mkdtempSync(path.join(tmpdir(), "tandem-setup-files-"));
    sandboxes = new LocalSandboxProvider({
      baseDir,
      logger: createLogger({ level: "silent", service: "test" }),
    });
    id = await sandboxes.create({
      name: "setup-files",
      image: "none",
      labels: {},
      env: {},
      network: "none",
    });
    await sandboxes.start(id);
    dir = path.join(sandboxes.layout(id).workspace, "acme/app");
    mkdirSync(dir, { recursive: true });
    git("init", "-q", "-b", "main");
    write("README.md", "# app\n");
    write(".gitignore", "*.log\n");
    git("add", "-A");
    git("commit", "-q", "-m", "initial");
    // Someone's own lines, without a newline at the end.
    writeFileSync(path.join(dir, ".git/info/exclude"), "# mine\n/local-notes.txt");
  });
  afterAll(async () => {
    await sandboxes?.remove(id);
    rmSync(baseDir, { recursive: true, force: true });
  });

  it("excludes what the setup script created, keeps the file's own lines, and is idempotent", async () => {
    write("node_modules/x/index.js");
    write("node_modules/y.js");
    write("generated.txt");
    write("odd [1]*?.txt ");
    write("setup.log"); // already ignored by .gitignore
    mkdirSync(path.join(dir, "empty-dir"));

    const excluded = await excludeSetupFiles(sandboxes, id, dir);
    expect(excluded.sort()).toEqual(["generated.txt", "node_modules/", "odd [1]*?.txt "]);
    const block = [
      SETUP_BLOCK_BEGIN,
      "/generated.txt",
      "/node_modules/",
      "/odd \\[1]\\*\\?.txt\\ ",
      SETUP_BLOCK_END,
    ];
    expect(exclude()).toBe(["# mine", "/local-notes.txt", ...block, ""].join("\n"));
    expect(status()).toBe("");

    // A second run lists the same files once, in place of the first block.
    expect((await excludeSetupFiles(sandboxes, id, dir)).sort()).toEqual(excluded.sort());
    expect(exclude()).toBe(["# mine", "/local-notes.txt", ...block, ""].join("\n"));

    // The agent's own work still counts: a new file, an edit to a tracked one.
    write("src/agent.ts");
    write("README.md", "# app, edited\n");
    expect(status()).toBe(" M README.md\n?? src/agent.ts\n");
  });

  it("lists what is there on a re-run: new files join, removed ones leave, the block stays one", async () => {
    rmSync(path.join(dir, "src"), { recursive: true });
    git("checkout", "--", "README.md");
    rmSync(path.join(dir, "generated.txt"));
    write("dist/bundle.js");

    expect((await excludeSetupFiles(sandboxes, id, dir)).sort()).toEqual([
      "dist/",
      "node_modules/",
      "odd [1]*?.txt ",
    ]);
    const text = exclude();
    expect(text.split(SETUP_BLOCK_BEGIN)).toHaveLength(2);
    expect(text).not.toContain("/generated.txt");
    expect(text).toContain("/dist/\n");
    expect(text.startsWith("# mine\n/local-notes.txt\n")).toBe(true);
    expect(status()).toBe("");
  });

  it("removes the block, and only it, when the setup script created nothing", async () => {
    for (const p of ["dist", "node_modules", "odd [1]*?.txt ", "setup.log", "empty-dir"])
      rmSync(path.join(dir, p), { recursive: true, force: true });
    expect(await excludeSetupFiles(sandboxes, id, dir)).toEqual([]);
    // The block is gone; the newline that ended the last own line when it was added stays.
    expect(exclude()).toBe("# mine\n/local-notes.txt\n");
  });

  it("fails with the directory named when it is not a git checkout", async () => {
    const elsewhere = path.join(sandboxes.layout(id).workspace, "not-a-repo");
    mkdirSync(elsewhere);
    await expect(excludeSetupFiles(sandboxes, id, elsewhere)).rejects.toMatchObject({
      code: "setup_files_failed",
      message: expect.stringContaining(elsewhere),
    });
  });
});
