import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parsePortHost, portOrigin } from "@tandem/core";
import { droppedSetCookie } from "../web/src/ports/relay.ts";
import { portTokenKey, signPortToken, type PortClaims } from "../web/src/ports/token.ts";
import { otherOrganization } from "./helpers/api.ts";
import { portsRequest } from "./helpers/ports.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe("the ports origin's addresses and cookies", () => {
  it("refuses a PORTS_PUBLIC_URL whose pages could set cookies that Tandem receives", () => {
    expect(problemsOf({})).toEqual([]);
    expect(
      problemsOf({
        PUBLIC_URL: "https://tandem.example.com",
        PORTS_PUBLIC_URL: "https://tandem-ports.example.net",
      }),
    ).toEqual([]);
    expect(
      problemsOf({
        PUBLIC_URL: "http://127.0.0.1:3000",
        PORTS_PUBLIC_URL: "http://ports.localhost:3001",
      }),
    ).toEqual([]);
    expect(
      problemsOf({
        PUBLIC_URL: "https://tandem.example.com",
        PORTS_PUBLIC_URL: "https://ports.example.com",
      }),
    ).toEqual([
      "PORTS_PUBLIC_URL is invalid: pages of sandboxes under ports.example.com could set cookies for example.com, which Tandem " +
        "(tandem.example.com) receives; use a domain that PUBLIC_URL's host is not under (e.g. tandem-ports.example.net)",
    ]);
    expect(
      problemsOf({
        PUBLIC_URL: "https://example.com",
        PORTS_PUBLIC_URL: "https://example.com:8443",
      })[0],
    ).toMatch(/could set cookies for example\.com/);
    expect(problemsOf({ PORTS_PUBLIC_URL: "http://127.0.0.1:3001" })[0]).toMatch(
      /^PORTS_PUBLIC_URL is invalid: 127\.0\.0\.1 is an IP address/,
    );
  });

  it("names one host per session and port, and reads it back from Host", () => {
    const id = "0b7c6f0e-2a41-4d3c-9a57-1f2e3d4c5b6a";
    expect(portOrigin("http://localhost:3001", id, 8080)).toBe(`http://8080-${id}.localhost:3001`);
    expect(parsePortHost("http://localhost:3001", `8080-${id}.localhost:3001`)).toEqual({
      sessionId: id,
      port: 8080,
    });
    expect(parsePortHost("http://localhost:3001", `8080-${id.toUpperCase()}.LOCALHOST`)).toEqual({
      sessionId: id,
      port: 8080,
    });
    for (const host of [
      "localhost:3001",
      `x.8080-${id}.localhost`,
      `0-${id}.localhost`,
      `70000-${id}.localhost`,
      `8080-${id}.evil.test`,
      undefined,
    ]) {
      expect(parsePortHost("http://localhost:3001", host), String(host)).toBeUndefined();
    }
  });

  it("drops a sandbox's Set-Cookie that carries a Domain or names a Tandem cookie", () => {
    expect(droppedSetCookie("app=1; Path=/; HttpOnly")).toBe(false);
    expect(droppedSetCookie("app=1; Path=/; Domain=localhost")).toBe(true);
    expect(droppedSetCookie("app=1;domain=.example.net")).toBe(true);
    expect(droppedSetCookie("tandem_port=forged; Path=/")).toBe(true);
    expect(droppedSetCookie("TANDEM_session=x")).toBe(true);
  });
});

describe("Tandem's link route and the ports origin's checks", () => {
  let stack: Stack;
  let id: string;
  const key = () => portTokenKey(stack.rt.config);
  const now = () => Date.now();
  const authorize = (claims: Partial<PortClaims> = {}, token?: string, port = 3000) => {
    const signed =
      token ??
      signPortToken(key(), {
        kind: "link",
        sessionId: id,
        port,
        userId: stack.rt.ownerId,
        expiresAtMs: now() + 60_000,
        ...claims,
      });
    return portsRequest(
      stack,
      `${portOrigin(stack.portsBase, id, port)}/__tandem/authorize?token=${encodeURIComponent(signed)}&next=/`,
    );
  };

  beforeAll(async () => {
    stack = await startStack("postgres", { SANDBOX_PROVIDER: "local" }, { none: true });
    await stack.owner.request("POST", "/api/repositories", {
      name: "acme/app",
      cloneUrl: "https://git.example.test/acme/app.git",
      defaultBranch: "main",
    });
    id = (
      await stack.owner.request("POST", "/api/sessions", {
        repository: "acme/app",
        prompt: "serve something",
      })
    ).body.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("answers an unsigned, tampered, expired, or another session's or port's link token with 403 and why", async () => {
    const unsigned = await authorize({}, "");
    expect(unsigned.status).toBe(403);
    expect(unsigned.body).toBe(
      "this port link is not signed by Tandem; open the port from the session's Processes panel\n",
    );
    const good = signPortToken(key(), {
      kind: "link",
      sessionId: id,
      port: 3000,
      userId: stack.rt.ownerId,
      expiresAtMs: now() + 60_000,
    });
    const [payload, mac] = good.split(".");
    const forgedPayload = Buffer.from(
      JSON.stringify(["link", id, 3000, stack.rt.ownerId, now() + 3_600_000]),
    ).toString("base64url");
    expect((await authorize({}, `${forgedPayload}.${mac}`)).body).toMatch(
      /^this port link is not signed by Tandem/,
    );
    expect((await authorize({}, `${payload}.${mac!.slice(0, -2)}AA`)).status).toBe(403);
    const otherKey = signPortToken(Buffer.alloc(32, 1), {
      kind: "link",
      sessionId: id,
      port: 3000,
      userId: stack.rt.ownerId,
      expiresAtMs: now() + 60_000,
    });
    expect((await authorize({}, otherKey)).body).toMatch(/^this port link is not signed by Tandem/);
    const expired = await authorize({ expiresAtMs: now() - 1 });
    expect(expired.status).toBe(403);
    expect(expired.body).toBe(
      "this port link has expired; open the port again from the session's Processes panel\n",
    );
    const otherSession = await authorize({ sessionId: "0b7c6f0e-2a41-4d3c-9a57-1f2e3d4c5b6a" });
    expect(otherSession.status).toBe(403);
    expect(otherSession.body).toBe("this port link is for another session or port\n");
    expect((await authorize({ port: 3001 })).body).toBe(
      "this port link is for another session or port\n",
    );
    // A cookie is not a link, and a link is not a cookie.
    expect((await authorize({ kind: "cookie" })).body).toBe(
      "this port link is for another session or port\n",
    );
    const asCookie = await portsRequest(stack, `${portOrigin(stack.portsBase, id, 3000)}/`, {
      headers: { cookie: `tandem_port=${good}` },
    });
    expect(asCookie.status).toBe(403);
    expect(asCookie.body).toBe(
      `open this port from the session's Processes panel in Tandem: http://tandem.test/sessions/${id}/ports/3000/\n`,
    );
    // A valid link for a session whose sandbox is not running is let in no further than that.
    const noSandbox = await authorize();
    expect(noSandbox.status).toBe(409);
    expect(noSandbox.headers["set-cookie"]).toBeUndefined();
  });

  it("answers hosts that name no session port, and requests without the port's cookie, with no content", async () => {
    const unknown = await portsRequest(stack, `${stack.portsBase}/`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain("ports are <port>-<session id> hosts under localhost:");
    const noCookie = await portsRequest(stack, `${portOrigin(stack.portsBase, id, 3000)}/`, {
      headers: { cookie: "tandem_session=whatever" },
    });
    expect(noCookie.status).toBe(403);
    const expired = signPortToken(key(), {
      kind: "cookie",
      sessionId: id,
      port: 3000,
      userId: stack.rt.ownerId,
      expiresAtMs: now() - 1,
    });
    const stale = await portsRequest(stack, `${portOrigin(stack.portsBase, id, 3000)}/`, {
      headers: { cookie: `tandem_port=${expired}` },
    });
    expect(stale.status).toBe(403);
    expect(stale.body).toMatch(/^your access to this port has expired; open it again from Tandem/);
  });

  it("lets only members of the session's org mint a link, and serves no port content on Tandem's origin", async () => {
    const other = await otherOrganization(stack.rt);
    const foreign = await fetch(`${stack.base}/sessions/${id}/ports/3000/`, {
      headers: { authorization: `Bearer ${other.token}` },
      redirect: "manual",
    });
    expect(foreign.status).toBe(404);
    expect(foreign.headers.get("location")).toBeNull();
    const anonymous = await fetch(`${stack.base}/sessions/${id}/ports/3000/`, {
      redirect: "manual",
    });
    expect(anonymous.status).toBe(401);
    const mine = await fetch(`${stack.base}/sessions/${id}/ports/3000/`, {
      headers: { authorization: `Bearer ${stack.owner.token}` },
      redirect: "manual",
    });
    expect(mine.status).toBe(409);
    expect((await mine.json()).error.message).toBe(
      "the session has no sandbox yet; it starts with the first turn",
    );
    const posted = await fetch(`${stack.base}/sessions/${id}/ports/3000/form`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.owner.token}` },
    });
    expect(posted.status).toBe(404);
    // A member who leaves the org loses the port with the next request, even holding its cookie.
    const cookie = signPortToken(key(), {
      kind: "cookie",
      sessionId: id,
      port: 3000,
      userId: other.userId,
      expiresAtMs: now() + 60_000,
    });
    const outsider = await portsRequest(stack, `${portOrigin(stack.portsBase, id, 3000)}/`, {
      headers: { cookie: `tandem_port=${cookie}` },
    });
    expect(outsider.status).toBe(403);
    expect(outsider.body).toBe("you are no longer a member of this session's organization\n");
  });

  it("sends a Content-Security-Policy, X-Frame-Options and nosniff with the workbench", async () => {
    for (const path of ["/", `/sessions/${id}`, "/api/openapi.json"]) {
      const res = await fetch(`${stack.base}${path}`, {
        headers: { cookie: `tandem_session=${stack.owner.token}` },
      });
      expect(res.status, path).toBe(200);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self';");
      expect(csp).toContain("connect-src 'self' ws://tandem.test");
      expect(csp).not.toContain("unsafe-eval");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });
});
