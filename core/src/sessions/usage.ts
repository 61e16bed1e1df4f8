import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/client.ts";
import { sessions } from "../db/schema.ts";

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

/** Adds one model call's tokens to the session's running totals. */
export async function recordSessionUsage(db: Db, sessionId: string, usage: TokenUsage): Promise<void> {
  if (usage.inputTokens === 0 && usage.outputTokens === 0) return;
  await db.update(sessions).set({
    inputTokens: sql`${sessions.inputTokens} + ${usage.inputTokens}`,
    outputTokens: sql`${sessions.outputTokens} + ${usage.outputTokens}`,
  }).where(eq(sessions.id, sessionId));
}

/** Past this much unparsed text a body is not worth metering (a runaway or non-model response). */
const MAX_PENDING_CHARS = 32 * 1024 * 1024;

const count = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0);

/** Responses API `usage` (input/output_tokens), or Chat Completions' (prompt/completion_tokens). */
function usageOf(value: unknown): TokenUsage | null {
  if (!value || typeof value !== "object") return null;
  const u = value as Record<string, unknown>;
  return { inputTokens: count(u.input_tokens ?? u.prompt_tokens), outputTokens: count(u.output_tokens ?? u.completion_tokens) };
}

/**
 * Reads token usage out of a model response as it streams past, without holding it back:
 * `response.completed` events of an SSE stream, or the top-level `usage` of a JSON body.
 */
export class UsageMeter {
  private readonly total: TokenUsage = { inputTokens: 0, outputTokens: 0 };
  private readonly decoder = new TextDecoder();
  private pending = "";
  private readonly kind: "sse" | "json" | "other";

  constructor(contentType: string | undefined) {
    const type = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
    this.kind = type === "text/event-stream" ? "sse" : type === "application/json" || type.endsWith("+json") ? "json" : "other";
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
      // Most events are deltas; only parse the one that carries usage.
      if (!block.includes("response.completed")) continue;
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, "")).join("\n");
      try {
        const event = JSON.parse(data) as { type?: string; response?: { usage?: unknown } };
        if (event.type === "response.completed") this.add(usageOf(event.response?.usage));
      } catch {
        /* a malformed event: skip it */
      }
    }
  }

  private add(usage: TokenUsage | null): void {
    if (!usage) return;
    this.total.inputTokens += usage.inputTokens;
    this.total.outputTokens += usage.outputTokens;
  }
}
