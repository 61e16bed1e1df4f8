import { randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { chromiumAvailable, launchBrowser } from "./helpers/browser.ts";
import { ROOT, runEntry } from "./helpers/spawn.ts";
import { freePorts } from "./helpers/stack.ts";

/** SIGTERM to the whole process group (npm, sh, tsx, node, its redis-server), then waits until none is left. */
async function stopGroup(pgid: number) {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  process.kill(-pgid, "SIGTERM");
  for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(-pgid, "SIGKILL");
}

describe("npm start (all in one process, embedded defaults)", () => {
  it("answers /readyz 200 within 15 s with no DATABASE_URL or REDIS_URL, and prints the URL (following PORT) and a login link", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "tandem-start-"));
    const [port, portsPort] = (await freePorts(2)) as [number, number];
    const started = Date.now();
    const child = spawn("npm", ["start", "--silent"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? "/root",
        PORT: String(port),
        PORTS_PORT: String(portsPort),
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        // No PUBLIC_URL: it follows PORT.
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group: npm runs the script under sh, which would not pass a signal on to tsx.
      detached: true,
    });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    try {
      let ready: Response | undefined;
      while (Date.now() - started < 15_000) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        if (ready?.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(ready?.status).toBe(200);
      expect(await ready!.json()).toEqual({ ok: true, postgres: "ok", redis: "ok" });
      expect(stdout).toContain(`Tandem is running at http://localhost:${port}\n`);
      // The ports origin listens beside it, and serves nothing to a host that names no session port.
      const ports = await fetch(`http://127.0.0.1:${portsPort}/`);
      expect(ports.status).toBe(404);
      expect(await ports.text()).toMatch(/ports are <port>-<session id> hosts under localhost:/);
      const link = stdout.match(/Owner login link \(one-time, 24 h\): (\S+)/)?.[1];
      expect(link).toBeDefined();
      expect(link!.startsWith(`http://localhost:${port}/`)).toBe(true);
      // In a browser: the printed link signs in and lands on this Tandem's own pages.
      let cookie = "";
      if (chromiumAvailable()) {
        const browser = await launchBrowser();
        try {
          const page = await browser.newPage();
          await page.goto(link!);
          await page.waitForURL(`http://localhost:${port}/`);
          await page.waitForSelector("[data-testid=sessions-link][aria-current=page]");
          // The page's own origin passes the terminal's WebSocket origin check (404: no such session).
          const status = await page.evaluate(
            async (sid) =>
              (
                await fetch(
                  `/api/sessions/${sid}/terminal/check?origin=${encodeURIComponent(location.origin)}`,
                )
              ).status,
            randomUUID(),
          );
          expect(status).toBe(404);
          const session = (await page.context().cookies()).find((c) => c.name === "tandem_session");
          cookie = `tandem_session=${session!.value}`;
        } finally {
          await browser.close();
        }
      } else {
        const login = await fetch(link!, { redirect: "manual" });
        expect(login.status).toBe(303);
        cookie = login.headers.get("set-cookie")!.split(";")[0]!;
      }
      const me = await fetch(`http://127.0.0.1:${port}/api/me`, { headers: { cookie } });
      expect((await me.json()).organizations[0]).toMatchObject({ name: "Default", role: "owner" });
      // The WebSocket origin check follows PORT too: a page of this Tandem passes it.
      const check = (origin: string) =>
        fetch(
          `http://127.0.0.1:${port}/api/sessions/${randomUUID()}/terminal/check?origin=${encodeURIComponent(origin)}`,
          { headers: { cookie } },
        );
      expect((await check(`http://localhost:${port}`)).status).toBe(404); // no such session
      const refused = await check("http://localhost:3000");
      expect(refused.status).toBe(403);
      expect((await refused.json()).error.message).toContain(
        `must come from http://localhost:${port} (PUBLIC_URL)`,
      );
    } finally {
      await stopGroup(child.pid!);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("exits naming the package to install when REDIS_URL is unset and redis-server is not on PATH", async () => {
    const bin = mkdtempSync(path.join(tmpdir(), "tandem-bin-"));
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, path.join(bin, "node")); // node, and nothing else
    const dataDir = mkdtempSync(path.join(tmpdir(), "tandem-start-"));
    const { code, stderr } = await runEntry("src/start.ts", {
      PATH: bin,
      DATA_DIR: dataDir,
      PORT: "0",
    });
    rmSync(bin, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(stderr).toMatch(/install the `redis-server` package/);
  });
});
