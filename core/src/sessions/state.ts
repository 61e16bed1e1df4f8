import { AppError } from "../errors.ts";

export const SESSION_STATUSES = [
  "queued",
  "starting",
  "running",
  "idle",
  "stopped",
  "failed",
] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

/** The one place that says which session state may follow which. */
const transitions: Record<SessionStatus, readonly SessionStatus[]> = {
  queued: ["starting", "stopped", "failed"],
  starting: ["running", "stopped", "failed"],
  running: ["idle", "stopped", "failed"],
  idle: ["running", "stopped", "failed"],
  stopped: [],
  failed: [],
};

export const isTerminal = (status: SessionStatus) => transitions[status].length === 0;

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return transitions[from].includes(to);
}

export function assertTransition(from: SessionStatus, to: SessionStatus): void {
  if (!canTransition(from, to)) {
    throw new AppError("invalid_transition", `a ${from} session cannot become ${to}`, 409);
  }
}
