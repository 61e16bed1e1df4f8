import { Worker, type Job } from "bullmq";
import {
  createSandboxProvider,
  every,
  QUEUE_NAMES,
  redisOptions,
  REFRESH_JOB,
  refreshProfile,
  sweepInbox,
  syncRefreshSchedules,
  type AgentAdapter,
  type ChatProvider,
  type Runtime,
  type SandboxProvider,
} from "@tandem/core";
import { processInbound, type InboundHandler } from "./processors/inbound.ts";
import { processOutbound, type OutboundHandler } from "./processors/outbound.ts";
import { withRetryLater } from "./processors/retry-later.ts";
import type { RunnerDeps } from "./sessions/deps.ts";
import { runSession } from "./sessions/runner.ts";
import { sweepSessions } from "./sessions/sweeper.ts";
import { collectSnapshotImages, SNAPSHOT_GC_JOB } from "./snapshot-gc.ts";
import { buildSnapshot, sweepSnapshots } from "./snapshots.ts";

export interface WorkerOptions {
  /** The configured providers (`createProviders` in bot/src/providers.ts, called by the entry point). */
  providers: readonly ChatProvider[];
  /** Added to (and replacing) the providers' own inbound handlers, by provider name. */
  handlers?: Record<string, InboundHandler>;
  sweepIntervalMs?: number;
  /** How long an enqueued-but-unprocessed event waits before the sweeper enqueues it again. */
  staleAfterMs?: number;
  /** Defaults come from the config (SANDBOX_PROVIDER). */
  sandboxes?: SandboxProvider;
  /** Overrides the agent every profile names, for every session (tests). */
  agent?: AgentAdapter;
  pollMs?: number;
  /** How long a job stays claimed by a worker that stopped answering (BullMQ's lock). */
  lockDurationMs?: number;
  /** How often unused snapshot images are removed (a maintenance job scheduler); 0 for never. */
  snapshotGcEveryMs?: number;
  /** How long a replaced snapshot image stays, for sandboxes being created from it right then. */
  snapshotGcGraceMs?: number;
}

export interface RunningWorker {
  sweepNow(): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts the BullMQ processors. The inbox sweeper runs on a timer in this process rather than as a
 * scheduled job: it exists for the case where Redis (and every scheduled job in it) is gone.
 */
export function startWorker(rt: Runtime, opts: WorkerOptions): RunningWorker {
  const log = rt.logger.child({ component: "worker" });
  // Each configured provider routes its inbound events and performs its outbound jobs.
  const { providers } = opts;
  const handlers: Record<string, InboundHandler> = {
    ...Object.fromEntries(providers.flatMap((p) => (p.inbound ? [[p.name, p.inbound]] : []))),
    ...opts.handlers,
  };
  const outboundHandlers: Record<string, OutboundHandler> = Object.fromEntries(
    providers.flatMap((p) => (p.outbound ? [[p.name, p.outbound]] : [])),
  );
  const deps = { db: rt.database.db, clock: rt.clock, logger: log, handlers };
  const inboxDeps = { db: rt.database.db, queues: rt.queues, logger: log, clock: rt.clock };
  const staleMs = opts.staleAfterMs ?? 5 * 60_000;
  const sweepNow = () => sweepInbox(inboxDeps, { staleMs });

  const runner: RunnerDeps = {
    rt,
    sandboxes: opts.sandboxes ?? createSandboxProvider(rt.config, log),
    providers,
    // Without an override, each session runs the agent its profile version names (sessions/agent.ts).
    ...(opts.agent ? { agent: opts.agent } : {}),
    pollMs: opts.pollMs ?? 250,
  };
  const lockDuration = opts.lockDurationMs ?? rt.config.SESSION_LOCK_MS;
  const profileDeps = { db: rt.database.db, queues: rt.queues, logger: log, clock: rt.clock };
  // The database is the record of refresh schedules; Redis may have lost or missed some.
  syncRefreshSchedules(profileDeps).catch((err) =>
    log.warn({ err }, "profile.schedules_sync_failed"),
  );
  const gcEveryMs = opts.snapshotGcEveryMs ?? 60 * 60_000;
  const gcSchedule =
    gcEveryMs > 0
      ? rt.queues.maintenance.upsertJobScheduler(
          SNAPSHOT_GC_JOB,
          { every: gcEveryMs },
          { name: SNAPSHOT_GC_JOB, opts: { removeOnComplete: true, removeOnFail: { count: 100 } } },
        )
      : rt.queues.maintenance.removeJobScheduler(SNAPSHOT_GC_JOB);
  gcSchedule.catch((err) => log.warn({ err }, "snapshot.gc_schedule_failed"));
  const connection = () => redisOptions(rt.redisTarget, "worker");
  const workers = [
    // A dead worker's session job is retried by another one after `lockDuration`, which then
    // reattaches to the agent still running in the sandbox.
    new Worker(
      QUEUE_NAMES.sessionTurns,
      (job: Job<{ sessionId: string }>) => runSession(runner, job.data.sessionId),
      {
        connection: connection(),
        prefix: rt.config.REDIS_PREFIX,
        concurrency: rt.config.SESSION_CONCURRENCY,
        lockDuration,
        stalledInterval: lockDuration,
        maxStalledCount: 10,
      },
    ),
    // Failures are recorded on the snapshot by the builder itself; the job only retries a lost worker.
    // A profile's refresh schedule adds REFRESH_JOB here; it asks for a build like the API does.
    new Worker(
      QUEUE_NAMES.snapshots,
      (job: Job) =>
        job.name === REFRESH_JOB
          ? refreshProfile(
              profileDeps,
              { profileId: (job.data as { profileId: string }).profileId },
              "schedule",
            )
          : buildSnapshot(runner, (job.data as { snapshotId: string }).snapshotId),
      {
        connection: connection(),
        prefix: rt.config.REDIS_PREFIX,
        concurrency: 2,
      },
    ),
    new Worker(
      QUEUE_NAMES.inbound,
      // A handler may wait for a companion event (RetryLaterError): the job comes back delayed.
      (job: Job<{ inboundEventId: string }>, token?: string) =>
        withRetryLater(job, token, log, () => processInbound(deps, job.data.inboundEventId)),
      {
        connection: connection(),
        prefix: rt.config.REDIS_PREFIX,
        concurrency: 4,
      },
    ),
    new Worker(
      QUEUE_NAMES.outbound,
      (job: Job, token?: string) => processOutbound(outboundHandlers, log, job, token),
      {
        connection: connection(),
        prefix: rt.config.REDIS_PREFIX,
        concurrency: 8,
      },
    ),
    new Worker(
      QUEUE_NAMES.maintenance,
      async (job: Job) => {
        if (job.name === "sweep-inbox") return sweepNow();
        if (job.name === SNAPSHOT_GC_JOB)
          return collectSnapshotImages(runner, { graceMs: opts.snapshotGcGraceMs ?? 60 * 60_000 });
        log.warn({ job: job.name }, "maintenance.unknown_job");
      },
      { connection: connection(), prefix: rt.config.REDIS_PREFIX },
    ),
  ];
  for (const w of workers) {
    w.on("failed", (job, err) => log.warn({ err, queue: w.name, jobId: job?.id }, "job.failed"));
    w.on("error", (err) => log.debug({ err, queue: w.name }, "worker.connection_error"));
  }

  // Reporters follow every session's events and update the threads sessions came from.
  const catchUpMs = opts.sweepIntervalMs ?? rt.config.INBOX_SWEEP_INTERVAL_MS;
  const following = providers.flatMap((p) =>
    p.follow
      ? [
          p.follow({ catchUpMs }).catch((err) => {
            log.error({ err, provider: p.name }, "provider.follow_failed");
            return undefined;
          }),
        ]
      : [],
  );

  const stopSweeping = every(
    opts.sweepIntervalMs ?? rt.config.INBOX_SWEEP_INTERVAL_MS,
    () =>
      Promise.all([
        sweepNow().catch((err) => log.warn({ err }, "inbox.sweep_failed")),
        sweepSessions(runner).catch((err) => log.warn({ err }, "sessions.sweep_failed")),
        sweepSnapshots({ rt, sandboxes: runner.sandboxes }).catch((err) =>
          log.warn({ err }, "snapshots.sweep_failed"),
        ),
        syncRefreshSchedules(profileDeps).catch((err) =>
          log.warn({ err }, "profile.schedules_sync_failed"),
        ),
      ]),
    () => {},
  );

  return {
    sweepNow,
    async close() {
      stopSweeping();
      for (const stop of await Promise.all(following)) await stop?.();
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
