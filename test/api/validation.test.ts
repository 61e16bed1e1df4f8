import { describe, expect, it } from "vitest";
import { useApiRuntime } from "../helpers/api-runtime.ts";
import { DB_KINDS } from "../helpers/runtime.ts";

// A request the API cannot take is answered with a message that says why.
describe.each(DB_KINDS)("API on %s", (kind) => {
  const api = useApiRuntime(kind);

  describe("validation", () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      [
        "POST",
        "/api/repositories",
        { name: "not a repo", cloneUrl: "https://x.test/a.git" },
        /name must look like owner\/repo/,
      ],
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "ftp://x.test/a.git" },
        /cloneUrl must be/,
      ],
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "https://x.test/a.git", extra: 1 },
        /unknown field extra/,
      ],
      // A password in the URL would travel into the sandbox with the remote: credentials go in `credential`.
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "https://bob:hunter2@x.test/a.git" },
        /cloneUrl must not carry a user:password part/,
      ],
      [
        "POST",
        "/api/repositories",
        { name: "a/b", cloneUrl: "https://x-access-token@x.test/a.git" },
        /cloneUrl must not carry a user:password part/,
      ],
      ["POST", "/api/sessions", { repository: "acme/app" }, /prompt/],
      [
        "POST",
        "/api/sessions",
        { repository: "acme/app", prompt: "   " },
        /prompt must not be empty/,
      ],
      [
        "POST",
        "/api/sessions",
        { repository: "acme/app", prompt: "x", model: "y" },
        /unknown field model/,
      ],
      ["POST", "/api/sessions", "{not json", /JSON/i],
      ["POST", "/api/sessions", [1, 2], /expected object/i],
      ["GET", "/api/sessions/not-a-uuid", undefined, /session id must be a UUID/],
      ["GET", "/api/sessions?limit=0", undefined, /limit/],
      ["POST", "/api/orgs", { name: "" }, /name/],
    ];
    it.each(cases)("%s %s %j → 400 with a message", async (method, url, body, message) => {
      const { owner } = api;
      const res = await owner.request(method, url, body);
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(message);
    });

    it("answers 404 with a message for an unknown repository", async () => {
      const { owner } = api;
      const res = await owner.request("POST", "/api/sessions", {
        repository: "acme/nope",
        prompt: "hi",
      });
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe("repository acme/nope not found");
    });
  });
});
