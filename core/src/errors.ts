/** One error family; `code` is stable and safe to show, `status` is the HTTP answer. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 500,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const badRequest = (message: string) => new AppError("bad_request", message, 400);
export const unauthorized = (message = "missing or invalid bearer token") =>
  new AppError("unauthorized", message, 401);
export const forbidden = (message: string) => new AppError("forbidden", message, 403);
export const notFound = (what: string) => new AppError("not_found", `${what} not found`, 404);
export const conflict = (message: string) => new AppError("conflict", message, 409);

/**
 * Not now: a provider's rate limit (429 with Retry-After) or a busy resource. Queue processors put
 * the job back for `retryAfterMs` instead of failing it, so the work is delayed, never dropped.
 */
export class RetryLaterError extends AppError {
  constructor(
    readonly retryAfterMs: number,
    message: string,
  ) {
    super("retry_later", message, 429);
    this.name = "RetryLaterError";
  }
}
