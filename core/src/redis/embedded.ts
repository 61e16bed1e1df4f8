import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AppError } from "../errors.ts";

export interface EmbeddedRedis {
  socketPath: string;
  stop(): Promise<void>;
}

const REDIS_MISSING_MESSAGE =
  "REDIS_URL is not set and no redis-server is on PATH: install the `redis-server` package " +
  "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), or set REDIS_URL.";

/** A private redis-server on a unix socket under `dataDir`, for `npm start` with nothing configured. */
export async function startEmbeddedRedis(
  dataDir: string,
  opts: { binary?: string } = {},
): Promise<EmbeddedRedis> {
  const binary = opts.binary ?? "redis-server";
  if (spawnSync(binary, ["--version"]).error)
    throw new AppError("redis_missing", REDIS_MISSING_MESSAGE);
  const dir = path.resolve(dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  let socketPath = path.join(dir, "redis.sock");
  // Unix socket paths are limited to ~107 bytes; deep checkouts fall back to the temp dir.
  if (socketPath.length > 100) socketPath = path.join(tmpdir(), `tandem-redis-${process.pid}.sock`);
  rmSync(socketPath, { force: true });
  const child = spawn(
    binary,
    [
      "--port",
      "0",
      "--unixsocket",
      socketPath,
      "--unixsocketperm",
      "700",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  await waitForSocket(child, socketPath);
  return {
    socketPath,
    stop: () => stopChild(child),
  };
}

async function waitForSocket(child: ChildProcess, socketPath: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!existsSync(socketPath)) {
    if (child.exitCode !== null)
      throw new AppError("redis_failed", `redis-server exited with code ${child.exitCode}`);
    if (Date.now() > deadline)
      throw new AppError("redis_failed", "redis-server did not open its socket in 10 s");
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}
