import { z } from "zod";

/** The normalised events a session's log holds; agent adapters produce them. */
export const sessionEventBody = z.discriminatedUnion("type", [
  z.object({ type: z.literal("status"), status: z.string(), reason: z.string().optional() }),
  z.object({
    type: z.literal("message"),
    role: z.enum(["user", "assistant", "system"]),
    text: z.string(),
    /** Where a user's message was written (api, web, slack, …). */
    source: z.string().optional(),
    /** The writer asked for it to be posted in the originating thread too. */
    echo: z.boolean().optional(),
  }),
  /** A command the agent has begun; its `command` event (same `id`) follows when it ends. */
  z.object({
    type: z.literal("command_started"),
    command: z.string(),
    /** The agent's id for the call, unique within its turn. */
    id: z.string().optional(),
  }),
  z.object({
    type: z.literal("command"),
    command: z.string(),
    output: z.string().optional(),
    exitCode: z.number().nullable().optional(),
    /** The id of its `command_started`, when the agent reported the start. */
    id: z.string().optional(),
  }),
  z.object({
    type: z.literal("file_change"),
    path: z.string(),
    kind: z.enum(["add", "update", "delete"]),
  }),
  z.object({
    type: z.literal("plan"),
    steps: z.array(z.object({ text: z.string(), done: z.boolean() })),
  }),
  z.object({ type: z.literal("error"), message: z.string() }),
  /** After a turn: what differs from the default branch, tracked and untracked files. */
  z.object({
    type: z.literal("diff_stat"),
    files: z.array(
      z.object({ path: z.string(), added: z.number().int(), removed: z.number().int() }),
    ),
  }),
]);
export type SessionEventBody = z.infer<typeof sessionEventBody>;

export interface SessionEvent {
  sessionId: string;
  seq: number;
  createdAt: string;
  body: SessionEventBody;
}
