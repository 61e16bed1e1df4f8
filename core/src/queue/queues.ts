import { Queue, type ConnectionOptions } from "bullmq";
import { withTimeout } from "../util/timeout.ts";

/** For adapters that classify provider failures: permanent ones are not retried. */
export { UnrecoverableError } from "bullmq";

export const QUEUE_NAMES = {
  inbound: "inbound",
  sessionTurns: "session-turns",
  snapshots: "snapshots",
  outbound: "outbound",
  maintenance: "maintenance",
} as const;
type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

export type Queues = Record<keyof typeof QUEUE_NAMES, Queue>;

/** Jobs keep a short history for debugging; the database is the record. */
const defaultJobOptions = {
  attempts: 5,
  backoff: { type: "exponential", delay: 1_000 },
  removeOnComplete: { count: 1_000 },
  removeOnFail: { count: 5_000 },
};

/** `prefix` namespaces every key, so several installs (or test runs) can share one Redis. */
export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  const make = (name: QueueName) => new Queue(name, { connection, prefix, defaultJobOptions });
  return {
    inbound: make(QUEUE_NAMES.inbound),
    sessionTurns: make(QUEUE_NAMES.sessionTurns),
    snapshots: make(QUEUE_NAMES.snapshots),
    outbound: make(QUEUE_NAMES.outbound),
    maintenance: make(QUEUE_NAMES.maintenance),
  };
}

export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.all(Object.values(queues).map((q) => q.close()));
}

/** Adds a job but gives up after `timeoutMs`, so a Redis outage never stalls a request. */
export async function enqueueWithin<T>(
  queue: Queue,
  name: string,
  data: T,
  jobId: string,
  opts: { timeoutMs?: number; removeWhenDone?: boolean } = {},
) {
  const remove = opts.removeWhenDone ? { removeOnComplete: true, removeOnFail: true } : {};
  const timeoutMs = opts.timeoutMs ?? 2_000;
  return withTimeout(
    queue.add(name, data, { jobId, ...remove }),
    timeoutMs,
    `enqueue to ${queue.name} timed out`,
  );
}

/**
 * The time window a coalesced job belongs to: every request in the same `intervalMs` window
 * shares one job id (`window`) that runs at the window's end (`delayMs` from now).
 */
export function coalescingWindow(
  nowMs: number,
  intervalMs: number,
): { window: number; delayMs: number } {
  const window = Math.floor(nowMs / intervalMs) + 1;
  return { window, delayMs: window * intervalMs - nowMs };
}
