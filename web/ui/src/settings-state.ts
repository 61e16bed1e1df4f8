import { ApiError, h } from "./api.ts";

/**
 * A Settings section whose load failed: a 404 means the provider is not configured, a state
 * shown plainly in `body`; anything else is an error, shown in `error`.
 */
export function showLoadFailure(
  err: unknown,
  body: HTMLElement,
  error: HTMLElement,
  notConfigured: string,
) {
  if (err instanceof ApiError && err.status === 404)
    body.replaceChildren(h("p.muted", {}, notConfigured));
  else {
    body.replaceChildren();
    error.textContent = (err as Error).message;
  }
}
