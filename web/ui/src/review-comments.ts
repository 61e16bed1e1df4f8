import { api, h } from "./api.ts";

/** A line comment waiting to go out with the session's next message. */
export interface PendingComment {
  id: string;
  path: string;
  line: string;
  text: string;
}

/** Kept per session in localStorage, so a reload or a refreshed diff loses none. */
const key = (sessionId: string) => `tandem.pendingComments.${sessionId}`;
const listeners = new Map<string, Set<() => void>>();
function listenersOf(sessionId: string) {
  let set = listeners.get(sessionId);
  if (!set) listeners.set(sessionId, (set = new Set()));
  return set;
}

function pending(sessionId: string): PendingComment[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(key(sessionId)) ?? "[]");
    return Array.isArray(value) ? (value as PendingComment[]) : [];
  } catch {
    return [];
  }
}

function save(sessionId: string, comments: PendingComment[]) {
  if (comments.length) localStorage.setItem(key(sessionId), JSON.stringify(comments));
  else localStorage.removeItem(key(sessionId));
  for (const listener of [...listenersOf(sessionId)]) listener();
}

export const commentText = (c: Pick<PendingComment, "path" | "line" | "text">) =>
  `Review comment on ${c.path}:${c.line}: ${c.text}`;

export function addPendingComment(sessionId: string, c: Omit<PendingComment, "id">) {
  const comment = { ...c, id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}` };
  save(sessionId, [...pending(sessionId), comment]);
  return comment;
}

/** Session `sessionId`'s pending comments on `path`. */
export const pendingOn = (sessionId: string, path: string) =>
  pending(sessionId).filter((c) => c.path === path);

/** Calls `onGone` once, when comment `id` is removed or sent. */
export function whenGone(sessionId: string, id: string, onGone: () => void) {
  const watch = () => {
    if (pending(sessionId).some((p) => p.id === id)) return;
    listenersOf(sessionId).delete(watch);
    onGone();
  };
  listenersOf(sessionId).add(watch);
}

export const hasPendingComments = (sessionId: string) => pending(sessionId).length > 0;

/**
 * Sends `text` as the session's next message with every pending comment under it (one line
 * each, as a single comment reads), then drops the comments that went out.
 */
export async function sendWithComments(sessionId: string, text: string) {
  const comments = pending(sessionId);
  const body = [text, comments.map(commentText).join("\n")].filter(Boolean).join("\n\n");
  const sent = await api("POST", `/api/sessions/${sessionId}/messages`, { text: body });
  const gone = new Set(comments.map((c) => c.id));
  save(
    sessionId,
    pending(sessionId).filter((c) => !gone.has(c.id)),
  );
  return sent;
}

/** "3 comments will be sent with your next message", each removable, and "Send comments now". */
export function pendingCommentsList(sessionId: string): HTMLElement {
  const box = h("section.pending-comments", {
    "data-testid": "pending-comments",
    "aria-label": "Review comments for your next message",
  });
  const error = h("span.error", { role: "alert" });
  const sendNow = h(
    "button",
    {
      type: "button",
      "data-testid": "send-comments",
      onclick: async () => {
        error.textContent = "";
        sendNow.disabled = true;
        try {
          await sendWithComments(sessionId, "");
        } catch (err) {
          error.textContent = (err as Error).message;
        } finally {
          sendNow.disabled = false;
        }
      },
    },
    "Send comments now",
  );
  const render = () => {
    const comments = pending(sessionId);
    box.hidden = comments.length === 0;
    const n = comments.length;
    box.replaceChildren(
      h(
        "div.pending-head",
        {},
        h(
          "strong",
          { "data-testid": "pending-summary" },
          `${n} comment${n === 1 ? "" : "s"} will be sent with your next message`,
        ),
        sendNow,
        error,
      ),
      h(
        "ul.pending-list",
        {},
        ...comments.map((c) =>
          h(
            "li",
            { "data-testid": "pending-comment", "data-path": c.path, "data-line": c.line },
            h(
              "span.pending-what",
              {},
              h("code", {}, `${c.path}:${c.line}`),
              " ",
              h("span.pending-text", {}, c.text),
            ),
            h(
              "button.ghost",
              {
                type: "button",
                "data-testid": "pending-remove",
                "aria-label": `Remove the comment on ${c.path}:${c.line}`,
                onclick: () =>
                  save(
                    sessionId,
                    pending(sessionId).filter((p) => p.id !== c.id),
                  ),
              },
              "Remove",
            ),
          ),
        ),
      ),
    );
  };
  listenersOf(sessionId).add(render);
  // Another tab of the same session adding or sending comments.
  window.addEventListener("storage", (e) => {
    if (e.key === key(sessionId)) render();
  });
  render();
  return box;
}
