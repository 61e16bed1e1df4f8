import { api, h } from "./api.ts";
import {
  addPendingComment,
  commentText,
  whenGone,
  type PendingComment,
} from "./review-comments.ts";

/**
 * The comment box under a diff line. "Add comment" (also Ctrl+Enter) keeps the comment for the
 * session's next message; "Send now" sends it alone at once, as "Review comment on <file>:<line>: …".
 */
export function commentRow(
  sessionId: string,
  path: string,
  line: string,
  onClose: () => void,
): HTMLTableRowElement {
  const add = h("button.primary", { type: "submit", "data-testid": "review-add" }, "Add comment");
  const sendNow = h("button", { type: "submit", "data-testid": "review-send" }, "Send now");
  const text = h("textarea", {
    rows: "2",
    placeholder: `Comment on ${path}:${line} for the agent…`,
    "aria-label": `Comment on ${path}:${line}`,
    "data-testid": "review-text",
    onkeydown: (e: KeyboardEvent) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        form.requestSubmit(add);
      }
    },
  });
  const error = h("span.error", { role: "alert" });
  const row = h("tr.review", { "data-line": line });
  const done = (testid: string, message: string) =>
    cell.replaceChildren(h("span.review-note", { "data-testid": testid }, message));
  const form = h(
    "form.review-form",
    {
      onsubmit: async (e: SubmitEvent) => {
        e.preventDefault();
        const comment = { path, line, text: text.value.trim() };
        if (!comment.text) return;
        if (e.submitter !== sendNow) {
          return row.replaceWith(
            pendingNote(sessionId, addPendingComment(sessionId, comment), onClose),
          );
        }
        try {
          await api("POST", `/api/sessions/${sessionId}/messages`, { text: commentText(comment) });
          done("review-sent", `Sent to the agent: ${path}:${line}: ${comment.text}`);
        } catch (err) {
          error.textContent = (err as Error).message;
        }
      },
    },
    text,
    h(
      "div.review-actions",
      {},
      add,
      sendNow,
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            row.remove();
            onClose();
          },
        },
        "Cancel",
      ),
    ),
    error,
  );
  const cell = h("td", { colspan: "2" }, form);
  row.append(cell);
  queueMicrotask(() => text.focus());
  return row;
}

/** What a kept comment leaves under its line; it goes once the comment is removed or sent. */
export function pendingNote(
  sessionId: string,
  c: PendingComment,
  onClose: () => void,
): HTMLTableRowElement {
  const row = h(
    "tr.review",
    { "data-line": c.line },
    h(
      "td",
      { colspan: "2" },
      h(
        "span.review-note",
        { "data-testid": "review-pending" },
        `Will be sent with your next message: ${c.path}:${c.line}: ${c.text}`,
      ),
    ),
  );
  whenGone(sessionId, c.id, () => {
    row.remove();
    onClose();
  });
  return row;
}
