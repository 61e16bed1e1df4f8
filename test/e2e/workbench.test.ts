import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execCollect, issueToken, portOrigin } from "@tandem/core";
import { ModelServer } from "../fixtures/model-server.ts";
import { otherOrganization } from "../helpers/api.ts";
import { dockerAvailable } from "../helpers/docker.ts";
import {
  dockerModelEnv,
  registerRepository,
  sandboxOf,
  startGitServer,
  type TestGit,
  waitFirstTurn,
} from "../helpers/e2e.ts";
import { openPort, portsRequest } from "../helpers/ports.ts";
import { freePort, startStack, until, type Stack } from "../helpers/stack.ts";
import { openTerminal } from "../helpers/ws.ts";
import WebSocket from "ws";

const ORIGIN = "http://tandem.test";
const skip = !dockerAvailable();

describe.skipIf(skip)("the session workbench's server side, against a docker sandbox", () => {
  let git: TestGit;
  let model: ModelServer;
  let stack: Stack;
  let id: string;
  let sandboxId: string;
  let wsBase: string;
  let auth: Record<string, string>;

  beforeAll(async () => {
    git = await startGitServer(
      { username: "u", password: "p" },
      {
        "acme/app": {
          "README.md": "# app\n",
          "hello.txt": "hello\n",
          "docs/todo.txt": "one\ntwo\nthree\n",
        },
      },
    );
    model = await new ModelServer([
      { shell: "echo hello-from-agent" },
      {
        applyPatch:
          "*** Begin Patch\n*** Update File: hello.txt\n@@\n-hello\n+hello, world\n*** End Patch\n",
      },
      { message: "Updated hello.txt." },
    ]).listen();
    stack = await startStack("postgres", {
      ...dockerModelEnv(model, "k"),
    });
    wsBase = stack.base.replace(/^http/, "ws");
    auth = { authorization: `Bearer ${stack.owner.token}`, origin: ORIGIN };
    await registerRepository(stack, git, "acme/app");
    const created = await stack.owner.request("POST", "/api/sessions", {
      repository: "acme/app",
      prompt: "Update hello.txt",
    });
    id = created.body.id;
    await waitFirstTurn(stack, id);
    const row = await sandboxOf(stack, id);
    sandboxId = row!.externalId!;
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
    await model?.close();
    await git?.close();
  });

  it("runs a login shell in the repository: input, UTF-8 output, resize, Ctrl-C, exit code", async () => {
    const term = await openTerminal(`${wsBase}/api/sessions/${id}/terminal?cols=120&rows=30`, auth);
    term.type('pwd; stty size; echo "sum=$((40+2))"\r');
    await term.waitFor("sum=42");
    expect(term.output()).toContain("/workspace/acme/app");
    expect(term.output()).toContain("30 120");
    term.send({ type: "resize", cols: 90, rows: 33 });
    await new Promise((r) => setTimeout(r, 300));
    term.type("stty size\r");
    await term.waitFor("33 90");
    // Many multi-byte characters, so some straddle chunk boundaries.
    term.type("for i in $(seq 300); do printf 'héllo ✓ 日本 '; done; echo; echo utf-$((2+3))\r");
    await term.waitFor("utf-5");
    expect(term.output()).not.toContain("\uFFFD");
    expect(term.output()).toContain("héllo ✓ 日本 ".repeat(300));
    term.type("sleep 60; echo not-$((9))-interrupted\r");
    await new Promise((r) => setTimeout(r, 500));
    term.type("\x03");
    term.type("echo after-$((1+1))\r");
    await term.waitFor("after-2");
    expect(term.output()).not.toContain("not-9-interrupted");
    term.type("exit 3\r");
    await term.closed;
    expect(term.exit()).toEqual({ type: "exit", code: 3 });
  }, 60_000);

  it("kills the shell when the socket closes", async () => {
    const term = await openTerminal(`${wsBase}/api/sessions/${id}/terminal`, auth);
    term.type("echo $$ > /tmp/ws-shell.pid; echo pid-saved\r");
    await term.waitFor(/pid-saved\r?\n/);
    term.close();
    await until(
      "the shell to be gone",
      async () => {
        const r = await execCollect(stack.sandboxes, sandboxId, [
          "sh",
          "-c",
          'kill -0 "$(cat /tmp/ws-shell.pid)" 2>/dev/null && echo alive || echo gone',
        ]);
        return r.stdout.trim() === "gone";
      },
      10_000,
    );
  }, 30_000);

  it("opens the agent's TUI on its thread", async () => {
    const tui = await openTerminal(`${wsBase}/api/sessions/${id}/tui?cols=120&rows=40`, auth);
    await tui.waitFor(/Updated hello\.txt|Update hello\.txt/, 30_000);
    tui.close();
  }, 45_000);

  it("refuses WebSockets from another origin (403), without credentials (401) and from another org (404)", async () => {
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 101,
        (err: { status?: number }) => err.status,
      );
    const url = `${wsBase}/api/sessions/${id}/terminal`;
    expect(await status(openTerminal(url, { ...auth, origin: "http://evil.test" }))).toBe(403);
    expect(await status(openTerminal(url, { authorization: auth.authorization! }))).toBe(403);
    expect(await status(openTerminal(url, { origin: ORIGIN }))).toBe(401);
    const other = await otherOrganization(stack.rt);
    expect(
      await status(openTerminal(url, { origin: ORIGIN, authorization: `Bearer ${other.token}` })),
    ).toBe(404);
    expect(
      await status(
        openTerminal(`${wsBase}/api/sessions/${id}/tui`, {
          origin: ORIGIN,
          authorization: `Bearer ${other.token}`,
        }),
      ),
    ).toBe(404);
    expect(
      (
        await stack.owner.request("GET", `/api/sessions/${id}/changes`, undefined, {
          authorization: `Bearer ${other.token}`,
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await stack.owner.request("GET", `/api/sessions/${id}/processes`, undefined, {
          authorization: `Bearer ${other.token}`,
        })
      ).status,
    ).toBe(404);
  });

  it("lists changes against the default branch, tracked and untracked, renames found, with counts and patches", async () => {
    await execCollect(stack.sandboxes, sandboxId, [
      "sh",
      "-c",
      "cd /workspace/acme/app && printf 'one\\ntwo\\n' > new.txt && git rm -q README.md && mv docs/todo.txt docs/done.txt",
    ]);
    const res = await stack.owner.request("GET", `/api/sessions/${id}/changes`);
    expect(res.status).toBe(200);
    expect(res.body.base).toMatch(/^[0-9a-f]{40}$/);
    const byPath = Object.fromEntries(res.body.files.map((f: { path: string }) => [f.path, f]));
    expect(byPath["hello.txt"]).toMatchObject({ status: "modified", added: 1, removed: 1 });
    expect(byPath["hello.txt"].patch).toContain("+hello, world");
    expect(byPath["new.txt"]).toMatchObject({ status: "added", added: 2, removed: 0 });
    expect(byPath["new.txt"].patch).toContain("+two");
    expect(byPath["README.md"]).toMatchObject({ status: "deleted", added: 0, removed: 1 });
    // Moved without a commit (an untracked new name, a deleted old one): one renamed entry.
    expect(byPath["docs/done.txt"]).toMatchObject({
      status: "renamed",
      oldPath: "docs/todo.txt",
      added: 0,
      removed: 0,
    });
    expect(byPath["docs/done.txt"].patch).toContain("rename from docs/todo.txt");
    expect(byPath["docs/todo.txt"]).toBeUndefined();
    expect(res.body.totals).toEqual({ files: 4, added: 3, removed: 2 });
    // The agent's own index is untouched: new.txt is still untracked there.
    const status = await execCollect(stack.sandboxes, sandboxId, [
      "git",
      "-C",
      "/workspace/acme/app",
      "status",
      "--porcelain",
    ]);
    expect(status.stdout).toContain("?? new.txt");
  });

  it("lists listening ports and serves them on their own origin, relayed from inside the sandbox", async () => {
    const port = await freePort();
    const server =
      `require("http").createServer((q,s)=>{let b="";q.on("data",d=>b+=d);q.on("end",()=>{s.setHeader("content-type","text/plain");` +
      `if(q.url==="/cookies")s.setHeader("set-cookie",["app=2; Path=/","wide=1; Domain=localhost; Path=/","Tandem_session=x; Path=/","also=3;path=/; domain=.localhost"]);` +
      `s.end("in-sandbox "+q.method+" "+q.url+" host="+q.headers.host+" cookie="+(q.headers.cookie||"")+" auth="+(q.headers.authorization||"")+" body="+b)})}).listen(${port},"127.0.0.1")`;
    await execCollect(stack.sandboxes, sandboxId, [
      "sh",
      "-c",
      `setsid node -e '${server}' >/dev/null 2>&1 < /dev/null &`,
    ]);
    const listed = await until(
      "the port to be listed",
      async () => {
        const r = await stack.owner.request("GET", `/api/sessions/${id}/processes`);
        return r.body.ports?.find((p: { port: number }) => p.port === port);
      },
      15_000,
    );
    const origin = portOrigin(stack.portsBase, id, port);
    expect(listed).toEqual({
      port,
      pid: expect.any(Number),
      command: expect.stringContaining(`node -e require("http").createServer(`),
      url: `/sessions/${id}/ports/${port}/`,
      origin,
    });
    // The pid is the server's: its command line in the sandbox is the one listed.
    const cmdline = await execCollect(stack.sandboxes, sandboxId, [
      "sh",
      "-c",
      `tr '\\0' ' ' < /proc/${listed.pid}/cmdline`,
    ]);
    expect(cmdline.stdout.trim()).toBe(listed.command);
    expect(origin).toBe(`http://${port}-${id}.localhost:${new URL(stack.portsBase).port}`);

    // Tandem's origin never serves the port: it redirects to the port's own host with a link token.
    const opened = await openPort(stack, stack.owner.token, id, port, "/a/b?x=1");
    expect(opened.authorizeUrl.startsWith(`${origin}/__tandem/authorize?token=`)).toBe(true);
    expect(opened.next).toBe("/a/b?x=1");
    expect(opened.setCookie).toHaveLength(1);
    expect(opened.setCookie[0]).toMatch(
      /^tandem_port=[\w.-]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=3600$/,
    );
    const again = await portsRequest(stack, opened.authorizeUrl);
    expect(again.status).toBe(403);
    expect(again.body).toBe(
      "this port link was already used; open the port again from the session's Processes panel\n",
    );
    // A `next` that leaves the port's host is ignored.
    const offsite = await openPort(stack, stack.owner.token, id, port, "//evil.test/x");
    expect(offsite.next).toBe("/");

    // Tandem's cookies, the ports origin's own among them, never reach the app; its own do.
    const got = await portsRequest(stack, `${origin}/a/b?x=1`, {
      headers: {
        cookie: `${opened.cookie}; tandem_session=secret; app=1; tandem_csrf=c`,
        authorization: "Basic YXBwOmFwcA==",
      },
    });
    expect(got.status).toBe(200);
    expect(got.body).toBe(
      `in-sandbox GET /a/b?x=1 host=127.0.0.1:${port} cookie=app=1 auth=Basic YXBwOmFwcA== body=`,
    );
    const posted = await portsRequest(stack, `${origin}/form`, {
      method: "POST",
      headers: { cookie: opened.cookie, "content-type": "application/json", origin },
      body: JSON.stringify({ a: "é" }),
    });
    expect(posted.body).toBe(
      `in-sandbox POST /form host=127.0.0.1:${port} cookie= auth= body={"a":"é"}`,
    );
    // The app may set cookies for its own host only: one with a Domain, or naming a Tandem cookie, is dropped.
    const cookies = await portsRequest(stack, `${origin}/cookies`, {
      headers: { cookie: opened.cookie },
    });
    expect(cookies.status).toBe(200);
    expect(cookies.headers["set-cookie"]).toEqual(["app=2; Path=/"]);

    const notListening = await fetch(`${stack.base}/sessions/${id}/ports/1/`, {
      headers: { authorization: `Bearer ${stack.owner.token}` },
      redirect: "manual",
    });
    expect(notListening.status).toBe(404);
    // The sandbox shares the host's network here: the host's own listeners (Tandem itself,
    // Postgres) are not the sandbox's, so they are neither listed nor reachable.
    const tandemPort = Number(new URL(stack.base).port);
    const ports = (
      await stack.owner.request("GET", `/api/sessions/${id}/processes`)
    ).body.ports.map((p: { port: number }) => p.port);
    expect(ports).not.toContain(tandemPort);
    expect(ports).not.toContain(5432);
    for (const hostPort of [tandemPort, 5432]) {
      const res = await fetch(`${stack.base}/sessions/${id}/ports/${hostPort}/`, {
        headers: { authorization: `Bearer ${stack.owner.token}` },
        redirect: "manual",
      });
      expect(res.status, `host port ${hostPort}`).toBe(404);
    }
    const other = await otherOrganization(stack.rt);
    const foreign = await fetch(`${stack.base}/sessions/${id}/ports/${port}/`, {
      headers: { authorization: `Bearer ${other.token}` },
      redirect: "manual",
    });
    expect(foreign.status).toBe(404);
    // A cookie of this port's host does not open another port of the session.
    const otherPort = await portsRequest(stack, `${portOrigin(stack.portsBase, id, port + 1)}/`, {
      headers: { cookie: opened.cookie },
    });
    expect(otherPort.status).toBe(403);
  }, 45_000);

  it("copies an attachment into the checkout under .tandem/attachments, kept out of git", async () => {
    const bytes = Buffer.concat([Buffer.from([0, 1, 2, 255]), Buffer.from("héllo\n")]);
    const res = await stack.owner.request("POST", `/api/sessions/${id}/attachments`, {
      name: "../../etc/my notes (1).bin",
      contentBase64: bytes.toString("base64"),
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      path: ".tandem/attachments/my_notes_1_.bin",
      sizeBytes: bytes.length,
    });
    const again = await stack.owner.request("POST", `/api/sessions/${id}/attachments`, {
      name: "b.txt",
      contentBase64: Buffer.from("b").toString("base64"),
    });
    expect(again.body.path).toBe(".tandem/attachments/b.txt");
    const inside = await execCollect(stack.sandboxes, sandboxId, [
      "sh",
      "-c",
      "cd /workspace/acme/app && base64 -w0 .tandem/attachments/my_notes_1_.bin; echo; grep -c '^.tandem/$' .git/info/exclude; git status --porcelain",
    ]);
    const [content, excludes, ...status] = inside.stdout.split("\n");
    expect(Buffer.from(content!, "base64")).toEqual(bytes);
    expect(excludes).toBe("1");
    expect(status.join("\n")).not.toContain(".tandem");
    expect(
      (await stack.owner.request("GET", `/api/sessions/${id}/changes`)).body.files.map(
        (f: { path: string }) => f.path,
      ),
    ).not.toContain(".tandem/attachments/b.txt");

    const tooBig = await stack.owner.request("POST", `/api/sessions/${id}/attachments`, {
      name: "big.bin",
      contentBase64: Buffer.alloc(5 * 1024 * 1024 + 1).toString("base64"),
    });
    expect(tooBig.status).toBe(400);
    expect(tooBig.body.error.message).toContain("at most 5242880 bytes");
    expect(
      (
        await stack.owner.request("POST", `/api/sessions/${id}/attachments`, {
          name: "..",
          contentBase64: "",
        })
      ).status,
    ).toBe(400);
    const other = await otherOrganization(stack.rt);
    const foreign = await stack.owner.request(
      "POST",
      `/api/sessions/${id}/attachments`,
      { name: "x.txt", contentBase64: "eA==" },
      { authorization: `Bearer ${other.token}` },
    );
    expect(foreign.status).toBe(404);
  }, 30_000);

  it("relays WebSocket upgrades on the port's origin to a server in the sandbox", async () => {
    const port = await freePort();
    // A bare WebSocket echo (short text frames only), written by hand: the image has no ws package.
    const server =
      `const c=require("crypto");require("http").createServer((q,s)=>s.end("plain")).on("upgrade",(q,sock)=>{` +
      `const accept=c.createHash("sha1").update(q.headers["sec-websocket-key"]+"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");` +
      `sock.write("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: "+accept+"\\r\\nSet-Cookie: ws=1; Domain=localhost\\r\\nX-Seen: "+q.url+" cookie="+(q.headers.cookie||"")+"\\r\\n\\r\\n");` +
      `sock.on("data",b=>{for(let o=0;o+6<=b.length;){if((b[o]&15)===8)return sock.end();const n=b[o+1]&127,m=b.subarray(o+2,o+6),d=Buffer.alloc(n);` +
      `for(let i=0;i<n;i++)d[i]=b[o+6+i]^m[i%4];o+=6+n;const out=Buffer.from("echo:"+d);sock.write(Buffer.concat([Buffer.from([0x81,out.length]),out]))}})})` +
      `.listen(${port},"127.0.0.1")`;
    await execCollect(stack.sandboxes, sandboxId, [
      "sh",
      "-c",
      `setsid node -e "$1" >/dev/null 2>&1 </dev/null &`,
      "sh",
      server,
    ]);
    await until(
      "the port to be listed",
      async () =>
        (await stack.owner.request("GET", `/api/sessions/${id}/processes`)).body.ports?.some(
          (p: { port: number }) => p.port === port,
        ),
      15_000,
    );

    const { origin, cookie } = await openPort(stack, stack.owner.token, id, port);
    const host = new URL(origin).host;
    const url = `${stack.ports.address.replace(/^http/, "ws")}/live?room=1`;
    const ws = new WebSocket(url, {
      headers: { host, cookie: `${cookie}; tandem_session=secret; app=1` },
      origin,
    });
    let seen = "";
    let setCookie: unknown;
    ws.on("upgrade", (res) => {
      seen = String(res.headers["x-seen"]);
      setCookie = res.headers["set-cookie"];
    });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    expect(seen).toBe("/live?room=1 cookie=app=1");
    expect(setCookie).toBeUndefined();
    const replies: string[] = [];
    ws.on("message", (d) => replies.push(d.toString()));
    ws.send("hi");
    ws.send("again");
    await until("both echoes", async () => replies.length >= 2, 10_000);
    expect(replies).toEqual(["echo:hi", "echo:again"]);
    ws.close();

    const status = (headers: Record<string, string>, at = url) =>
      new Promise<number>((resolve) => {
        const { origin: from, ...rest } = headers;
        const refused = new WebSocket(at, { headers: rest, origin: from });
        refused.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        refused.on("open", () => {
          refused.close();
          resolve(101);
        });
        refused.on("error", () => resolve(-1));
      });
    // Only the port's own pages: not another port's page (same site), not Tandem, not without a cookie.
    expect(await status({ host, cookie, origin: portOrigin(stack.portsBase, id, port + 1) })).toBe(
      403,
    );
    expect(await status({ host, cookie, origin: stack.base })).toBe(403);
    expect(await status({ host, origin })).toBe(403);
    // Tandem's origin relays no WebSocket to a port any more.
    expect(
      await status(
        { authorization: `Bearer ${stack.owner.token}`, origin: ORIGIN },
        `${wsBase}/sessions/${id}/ports/${port}/live`,
      ),
    ).toBe(404);
    // Plain HTTP to the same server still works.
    const plain = await portsRequest(stack, `${origin}/`, { headers: { cookie } });
    expect(plain.body).toBe("plain");
  }, 45_000);

  it("sends a signed-out visit to the login page and back after the owner login link", async () => {
    const page = await fetch(`${stack.base}/sessions/${id}`, { redirect: "manual" });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe(
      `/login?next=${encodeURIComponent(`/sessions/${id}`)}`,
    );
    const login = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    const back = await fetch(
      `${stack.base}/login/${login.token}?next=${encodeURIComponent(`/sessions/${id}`)}`,
      { redirect: "manual" },
    );
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(`/sessions/${id}`);
    const cookies = back.headers.getSetCookie().map((c) => c.split(";")[0]!);
    expect(cookies.some((c) => c.startsWith("tandem_csrf="))).toBe(true);
    const signedIn = await fetch(`${stack.base}/sessions/${id}`, {
      headers: { cookie: cookies.join("; ") },
    });
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers.get("content-type")).toContain("text/html");
    // A next that leaves the origin is ignored.
    const evil = await issueToken(stack.rt.database.db, stack.rt.clock, {
      userId: stack.rt.ownerId,
      kind: "login",
      ttlMs: 60_000,
    });
    const offsite = await fetch(
      `${stack.base}/login/${evil.token}?next=${encodeURIComponent("//evil.test/x")}`,
      { redirect: "manual" },
    );
    expect(offsite.headers.get("location")).toBe("/");
    // Someone else's session is a 404 page.
    const other = await otherOrganization(stack.rt);
    const foreign = await fetch(`${stack.base}/sessions/${id}`, {
      headers: { cookie: `tandem_session=${other.token}` },
    });
    expect(foreign.status).toBe(404);
  });

  it("answers 409 once the sandbox is stopped, without starting it", async () => {
    await stack.sandboxes.stop(sandboxId);
    const res = await stack.owner.request("GET", `/api/sessions/${id}/changes`);
    expect(res.status).toBe(409);
    expect(res.body.error.message).toBe("sandbox is stopped; send a message to wake it");
    const status = (p: Promise<unknown>) =>
      p.then(
        () => 101,
        (err: { status?: number }) => err.status,
      );
    expect(await status(openTerminal(`${wsBase}/api/sessions/${id}/terminal`, auth))).toBe(409);
    expect((await stack.sandboxes.inspect(sandboxId)).state).toBe("stopped");
  });
});
