import { describe, expect, it } from "vitest";
import { useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

// The owner registers the repositories sessions check out, by any kind of git remote.
describe.each(DB_KINDS)("API on %s", (kind) => {
  const api = useApiRuntime(kind);

  describe("repositories", () => {
    it("registers https, ssh and scp-like remotes and lists them", async () => {
      const { owner } = api;
      const remotes = {
        "acme/ssh": "ssh://git@git.example.test/acme/ssh.git",
        "acme/scp": "git@git.example.test:acme/scp.git",
      };
      for (const [name, cloneUrl] of Object.entries(remotes)) {
        const res = await owner.request("POST", "/api/repositories", { name, cloneUrl });
        expect(res.status).toBe(201);
        expect(res.body).toEqual({ id: expect.any(String), name });
      }
      const list = await owner.request("GET", "/api/repositories");
      expect(list.body.repositories.map((r: { name: string }) => r.name)).toEqual([
        "acme/app",
        "acme/scp",
        "acme/ssh",
      ]);
      expect(
        list.body.repositories.find((r: { name: string }) => r.name === "acme/ssh").defaultBranch,
      ).toBe("main");
    });

    it("answers 409 for a name registered twice", async () => {
      const { owner } = api;
      const res = await owner.request("POST", "/api/repositories", {
        name: "acme/app",
        cloneUrl: "https://git.example.test/x.git",
      });
      expect(res.status).toBe(409);
    });
  });
});
