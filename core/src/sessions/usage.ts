import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { modelUsage, sessions } from "../db/schema.ts";

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/**
 * Adds one model call's tokens to the session's running totals, and to the org's ledger (which
 * the monthly budget sums by time; the session totals have no time).
 */
export async function recordSessionUsage(
  db: Db,
  session: { id: string; orgId: string },
  usage: TokenUsage,
  at: Date,
): Promise<void> {
  if (usage.inputTokens === 0 && usage.outputTokens === 0) return;
  await db.transaction(async (tx) => {
    await tx
      .update(sessions)
      .set({
        inputTokens: sql`${sessions.inputTokens} + ${usage.inputTokens}`,
        outputTokens: sql`${sessions.outputTokens} + ${usage.outputTokens}`,
      })
      .where(eq(sessions.id, session.id));
    await tx
      .insert(modelUsage)
      .values({ orgId: session.orgId, sessionId: session.id, ...usage, createdAt: at });
  });
}

/** Past this much unparsed text a body is not worth metering (a runaway or non-model response). */
const MAX_PENDING_CHARS = 32 * 1024 * 1024;

const count = (value: unknown) =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;

/**
 * Responses API `usage` (input/output_tokens), Chat Completions' (prompt/completion_tokens), or
 * Anthropic's (input_tokens leaves out the cache, so its cache tokens are added).
 */
function usageOf(value: unknown): TokenUsage | null {
  if (!value || typeof value !== "object") return null;
  const u = value as Record<string, unknown>;
  const cached = count(u.cache_creation_input_tokens) + count(u.cache_read_input_tokens);
  return {
    inputTokens: count(u.input_tokens ?? u.prompt_tokens) + cached,
    outputTokens: count(u.output_tokens ?? u.completion_tokens),
  };
}

/** Responses API events that end a response and carry its usage. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- an upstream's streamed event, read field by field
type UpstreamEvent = Record<string, any>;

const RESPONSE_DONE = new Set(["response.completed", "response.incomplete", "response.failed"]);

/**
 * Reads token usage out of a model response as it streams past, without holding it back. SSE:
 * the Responses API's final `response.*` event, a Chat Completions chunk with `usage`, or
 * Anthropic's `message_start` + `message_delta` (whose output count is cumulative). JSON: the
 * top-level `usage`.
 */
export class UsageMeter {
  private readonly total: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  private readonly decoder = new TextDecoder();
  private pending = "";
  /** The Anthropic message being streamed: its usage is complete only at its end. */
  private message: TokenUsage | null = null;
  private readonly kind: "sse" | "json" | "other";

  constructor(contentType: string | undefined) {
    const type = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
    this.kind =
      type === "text/event-stream"
        ? "sse"
        : type === "application/json" || type.endsWith("+json")
          ? "json"
          : "other";
  }

  push(chunk: Uint8Array): void {
    if (this.kind === "other") return;
    this.pending += this.decoder.decode(chunk, { stream: true });
    if (this.kind === "sse") this.drainEvents();
    if (this.pending.length > MAX_PENDING_CHARS) this.pending = "";
  }

  /** The usage seen in the whole body; call once the body has ended. */
  finish(): TokenUsage {
    this.pending += this.decoder.decode();
    if (this.kind === "sse") {
      this.pending += "\n\n";
      this.drainEvents();
      this.endMessage();
    } else if (this.kind === "json" && this.pending) {
      try {
        this.add(usageOf((JSON.parse(this.pending) as { usage?: unknown }).usage));
      } catch {
        /* not JSON after all: nothing to count */
      }
    }
    this.pending = "";
    return { ...this.total };
  }

  private drainEvents(): void {
    this.pending = this.pending.replace(/\r\n/g, "\n");
    let end: number;
    while ((end = this.pending.indexOf("\n\n")) >= 0) {
      const block = this.pending.slice(0, end);
      this.pending = this.pending.slice(end + 2);
      // Most events are deltas; only parse those that carry usage.
      if (!block.includes("usage")) continue;
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).replace(/^ /, ""))
        .join("\n");
      try {
        this.onEvent(JSON.parse(data) as UpstreamEvent);
      } catch {
        /* a malformed event: skip it */
      }
    }
  }

  private onEvent(event: UpstreamEvent): void {
    const type = event.type;
    if (typeof type === "string" && RESPONSE_DONE.has(type))
      return this.add(usageOf(event.response?.usage));
    if (type === "message_start") {
      this.endMessage();
      this.message = usageOf(event.message?.usage) ?? { inputTokens: 0, outputTokens: 0 };
      return;
    }
    if (type === "message_delta") {
      const delta = usageOf(event.usage);
      if (!delta) return;
      this.message ??= { inputTokens: 0, outputTokens: 0 };
      if (delta.inputTokens) this.message.inputTokens = delta.inputTokens;
      this.message.outputTokens = Math.max(this.message.outputTokens, delta.outputTokens);
      return;
    }
    if (event.object === "chat.completion.chunk") this.add(usageOf(event.usage));
  }

  private endMessage(): void {
    this.add(this.message);
    this.message = null;
  }

  private add(usage: TokenUsage | null): void {
    if (!usage) return;
    this.total.inputTokens += usage.inputTokens;
    this.total.outputTokens += usage.outputTokens;
  }
}
