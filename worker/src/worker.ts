import { Worker, type Job } from "bullmq";
import {
  QUEUE_NAMES, redisOptions, sweepInbox, type Runtime,
} from "@tandem/core";
import { processInbound, type InboundHandler } from "./processors/inbound.ts";

export interface WorkerOptions {
  handlers?: Record<string, InboundHandler>;
  sweepIntervalMs?: number;
  /** How long an enqueued-but-unprocessed event waits before the sweeper enqueues it again. */
  staleAfterMs?: number;
}

export interface RunningWorker {
  sweepNow(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts the BullMQ processors. The inbox sweeper runs on a timer in this process rather than as a
 * scheduled job: it exists for the case where Redis (and every scheduled job in it) is gone.
 */
export function startWorker(rt: Runtime, opts: WorkerOptions = {}): RunningWorker {
  const log = rt.logger.child({ component: "worker" });
  const deps = { db: rt.database.db, clock: rt.clock, logger: log, handlers: opts.handlers ?? {} };
  const inboxDeps = { db: rt.database.db, queues: rt.queues, logger: log, clock: rt.clock };
  const staleMs = opts.staleAfterMs ?? 5 * 60_000;
  const sweepNow = () => sweepInbox(inboxDeps, { staleMs });

  const connection = () => redisOptions(rt.redisTarget, "worker");
  const workers = [
    new Worker(QUEUE_NAMES.inbound, (job: Job<{ inboundEventId: string }>) => processInbound(deps, job.data.inboundEventId), {
      connection: connection(), prefix: rt.config.REDIS_PREFIX, concurrency: 4,
    }),
    new Worker(QUEUE_NAMES.maintenance, async (job: Job) => {
      if (job.name === "sweep-inbox") return sweepNow();
      log.warn({ job: job.name }, "maintenance.unknown_job");
    }, { connection: connection(), prefix: rt.config.REDIS_PREFIX }),
  ];
  for (const w of workers) {
    w.on("failed", (job, err) => log.warn({ err, queue: w.name, jobId: job?.id }, "job.failed"));
    w.on("error", (err) => log.debug({ err, queue: w.name }, "worker.connection_error"));
  }

  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepNow().catch((err) => log.warn({ err }, "inbox.sweep_failed")).finally(() => { sweeping = false; });
  }, opts.sweepIntervalMs ?? rt.config.INBOX_SWEEP_INTERVAL_MS);

  return {
    sweepNow,
    async close() {
      clearInterval(timer);
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
