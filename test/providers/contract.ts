import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { schema, sessionUrl, type Session } from "@tandem/core";
import { failWithoutPublishing } from "../helpers/e2e.ts";
import { until, type Stack } from "../helpers/stack.ts";

/**
 * One conversation on a provider (a Slack thread, a GitHub issue), driven through the provider's
 * real ingress (signed webhooks to the running stack) and read back from its fake API server.
 */
export interface ContractThread {
  /** The binding's thread key. */
  key: string;
  /** A person asks the bot to start (a mention, signed); `delivery` resends an earlier delivery as is. */
  start(text: string, delivery?: string): Promise<{ status: number; delivery: string }>;
  /** A person writes again in the same thread. */
  followUp(text: string): Promise<number>;
  /** A person stops the session from the provider (a button, a command). */
  stop(session: Session): Promise<number>;
  /** The bot's own message in the thread, mentioning itself. */
  fromBot(text: string): Promise<number>;
  /** A start event whose signature does not verify. */
  badlySigned(text: string): Promise<number>;
  /** Every call the provider's fake API received about this thread. */
  calls(): unknown[];
  /** The status message: how many times it was posted, and the text of each edit. */
  statusPosts(): string[];
  statusEdits(): string[];
  /** The messages in the thread that report the session failing with `reason`. */
  failureReports(reason: string): string[];
}

export interface ContractSubject {
  provider: string;
  stack: Stack;
  /** A conversation no session is bound to yet. */
  thread(): ContractThread;
  close(): Promise<void>;
}

const SETTLE_MS = 1_500;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The behaviour every provider owes its users, run against its fake API server: each provider's
 * `*.contract.test.ts` starts the stack and gives the subject; these tests are the same for all.
 */
export function providerContract(name: string, setup: () => Promise<ContractSubject>) {
  describe(`provider contract: ${name}`, () => {
    let subject: ContractSubject;
    const db = () => subject.stack.rt.database.db;

    const sessionsOf = async (thread: ContractThread) =>
      db()
        .select({ session: schema.sessions })
        .from(schema.sessionBindings)
        .innerJoin(schema.sessions, eq(schema.sessions.id, schema.sessionBindings.sessionId))
        .where(
          and(
            eq(schema.sessionBindings.provider, subject.provider),
            eq(schema.sessionBindings.threadKey, thread.key),
          ),
        )
        .then((rows) => rows.map((r) => r.session));
    const sessionOf = (thread: ContractThread) =>
      until("the thread's session", async () => (await sessionsOf(thread))[0], 20_000);
    const statusOf = async (id: string) =>
      (await db().query.sessions.findFirst({ where: eq(schema.sessions.id, id) }))?.status;
    const waitStatus = (id: string, status: string) =>
      until(`the session ${status}`, async () => (await statusOf(id)) === status, 30_000);
    const waitFor = (what: string, fn: () => boolean) => until(what, async () => fn(), 20_000);
    const userMessages = async (id: string) =>
      (
        await db()
          .select({ data: schema.sessionEvents.data })
          .from(schema.sessionEvents)
          .where(
            and(eq(schema.sessionEvents.sessionId, id), eq(schema.sessionEvents.type, "message")),
          )
      )
        .map((r) => r.data as { role?: string; text?: string })
        .filter((m) => m.role === "user")
        .map((m) => m.text ?? "");

    beforeAll(async () => {
      subject = await setup();
    }, 120_000);
    afterAll(async () => {
      await subject?.close();
    });

    it("a signed start event makes one session and one reply with the View session link", async () => {
      const thread = subject.thread();
      const res = await thread.start("please write some notes");
      expect(res.status).toBeLessThan(300);
      const session = await sessionOf(thread);
      await waitFor("the status message", () => thread.statusPosts().length > 0);
      await waitStatus(session.id, "idle");
      await pause(SETTLE_MS);
      expect(await sessionsOf(thread)).toHaveLength(1);
      expect(thread.statusPosts()).toHaveLength(1);
      expect(thread.statusPosts()[0]).toContain(
        sessionUrl(subject.stack.rt.config.PUBLIC_URL, session.id),
      );
    });

    it("the same delivery twice makes one session", async () => {
      const thread = subject.thread();
      const first = await thread.start("please write some notes");
      const again = await thread.start("please write some notes", first.delivery);
      expect(again.status).toBeLessThan(300);
      const session = await sessionOf(thread);
      await waitStatus(session.id, "idle");
      await pause(SETTLE_MS);
      expect(await sessionsOf(thread)).toHaveLength(1);
      expect(thread.statusPosts()).toHaveLength(1);
    });

    it("a failure between the session and its binding leaves neither: the retry of the same event makes one session and one reply", async () => {
      const thread = subject.thread();
      const word = `bound-once-${Date.now().toString(36)}`;
      // The binding insert for this thread fails once (a sequence counts across rolled-back transactions).
      const name = `test_fail_${word.replace(/-/g, "_")}`;
      const key = thread.key.replace(/'/g, "''");
      await db().execute(sql.raw(`CREATE SEQUENCE ${name}_seq`));
      await db().execute(
        sql.raw(`CREATE FUNCTION ${name}() RETURNS trigger AS $$ BEGIN
        IF NEW.thread_key = '${key}' AND nextval('${name}_seq') = 1 THEN RAISE EXCEPTION 'injected: the binding insert fails once'; END IF;
        RETURN NEW; END $$ LANGUAGE plpgsql`),
      );
      await db().execute(
        sql.raw(
          `CREATE TRIGGER ${name} BEFORE INSERT ON session_bindings FOR EACH ROW EXECUTE FUNCTION ${name}()`,
        ),
      );
      try {
        expect((await thread.start(`please write ${word}`)).status).toBeLessThan(300);
        const session = await sessionOf(thread);
        await waitStatus(session.id, "idle");
        await pause(SETTLE_MS);
        const [{ tries }] = (await db().execute(
          sql.raw(`SELECT last_value AS tries FROM ${name}_seq`),
        )) as unknown as [{ tries: string }];
        expect(Number(tries)).toBeGreaterThanOrEqual(2); // the first attempt did fail
        const started = await db()
          .select({ id: schema.sessions.id })
          .from(schema.sessions)
          .where(sql`${schema.sessions.prompt} LIKE ${`%${word}%`}`);
        expect(started.map((s) => s.id)).toEqual([session.id]);
        expect(thread.statusPosts()).toHaveLength(1);
      } finally {
        await db().execute(sql.raw(`DROP TRIGGER ${name} ON session_bindings`));
        await db().execute(sql.raw(`DROP FUNCTION ${name}()`));
        await db().execute(sql.raw(`DROP SEQUENCE ${name}_seq`));
      }
    });

    it("the bot's own message is ignored: no session, no call to the provider", async () => {
      const thread = subject.thread();
      expect(await thread.fromBot("please write some notes")).toBeLessThan(300);
      await pause(SETTLE_MS * 2);
      expect(await sessionsOf(thread)).toEqual([]);
      expect(thread.calls()).toEqual([]);
    });

    it("a bad signature is a 4xx with no session and no call to the provider", async () => {
      const thread = subject.thread();
      const status = await thread.badlySigned("please write some notes");
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
      await pause(SETTLE_MS);
      expect(await sessionsOf(thread)).toEqual([]);
      expect(thread.calls()).toEqual([]);
    });

    it("a follow-up in the same thread reaches the same session", async () => {
      const thread = subject.thread();
      await thread.start("please write some notes");
      const session = await sessionOf(thread);
      await waitStatus(session.id, "idle");
      expect(await thread.followUp("now add a second note")).toBeLessThan(300);
      await until(
        "the follow-up in the session",
        async () =>
          (await userMessages(session.id)).some((t) => t.includes("now add a second note")),
        20_000,
      );
      await waitStatus(session.id, "idle");
      expect(await sessionsOf(thread)).toHaveLength(1);
    });

    it("stop from the provider stops the session", async () => {
      const thread = subject.thread();
      await thread.start("be slow about it");
      const session = await sessionOf(thread);
      await waitStatus(session.id, "running");
      await waitFor("the status message", () => thread.statusPosts().length > 0);
      expect(await thread.stop(session)).toBeLessThan(300);
      await waitStatus(session.id, "stopped");
      await waitFor("the status to say it stopped", () =>
        thread.statusEdits().some((text) => /stopped/i.test(text)),
      );
      expect(thread.statusPosts()).toHaveLength(1);
    });

    it("the status message is edited in place, not reposted", async () => {
      const thread = subject.thread();
      await thread.start("please write some notes");
      const session = await sessionOf(thread);
      await waitStatus(session.id, "idle");
      await waitFor("an edit of the status message", () => thread.statusEdits().length > 0);
      await pause(SETTLE_MS);
      expect(thread.statusPosts()).toHaveLength(1);
      expect(thread.statusEdits().length).toBeGreaterThan(0);
    });

    it("a turn end the live feed missed is caught up from the event log, exactly once", async () => {
      const thread = subject.thread();
      await thread.start("please write some notes");
      const session = await sessionOf(thread);
      await waitStatus(session.id, "idle");
      await waitFor("the status message", () => thread.statusPosts().length > 0);
      await pause(SETTLE_MS * 2); // the turn's own reports land first
      const reason = `the disk caught fire ${session.id.slice(0, 8)}`;
      // The session fails; its status event is committed but never published (as when pub/sub drops it).
      await db()
        .update(schema.outboundMessages)
        .set({ updatedAt: new Date(Date.now() - 60_000) })
        .where(eq(schema.outboundMessages.sessionId, session.id));
      await failWithoutPublishing(subject.stack, session.id, reason);
      await waitFor("the missed failure", () => thread.failureReports(reason).length > 0);
      await pause(SETTLE_MS * 2); // several more catch-up rounds
      expect(thread.failureReports(reason)).toHaveLength(1);
    });
  });
}
