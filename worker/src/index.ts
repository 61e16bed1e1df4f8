export { startWorker, type RunningWorker, type WorkerOptions } from "./worker.ts";
export { processInbound, type InboundHandler } from "./processors/inbound.ts";
