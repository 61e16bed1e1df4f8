import { api, h } from "./api.ts";

/**
 * The session's title in its header: the name a person gave it, else its task's first line.
 * "Rename" turns it into a field; Enter or leaving the field saves (PATCH /api/sessions/:id),
 * Escape puts it back. A refusal (a member renaming another's session) is said beside it.
 */
export function sessionTitle(sessionId: string, initial: string): HTMLElement {
  let title = initial;
  const text = h("h1.session-title", { "data-testid": "session-title", title }, title);
  const error = h("span.error", { "data-testid": "title-error", role: "alert" });
  const input = h("input.title-input", {
    "data-testid": "title-input",
    "aria-label": "Session title",
    maxlength: "200",
    hidden: true,
  });
  const rename = h(
    "button.ghost.icon",
    {
      type: "button",
      "data-testid": "rename-session",
      "aria-label": "Rename session",
      title: "Rename session",
      onclick: () => edit(true),
    },
    "✎",
  );
  const show = () => {
    text.textContent = title;
    text.title = title;
    document.title = `${title} · Tandem`;
  };
  const edit = (on: boolean) => {
    input.hidden = !on;
    text.hidden = rename.hidden = on;
    if (on) {
      input.value = title;
      error.textContent = "";
      input.focus();
      input.select();
    }
  };
  let saving = false;
  const save = async () => {
    if (saving || input.hidden) return;
    const next = input.value.trim();
    if (!next || next === title) return edit(false);
    saving = true;
    try {
      const view = await api<{ title: string }>("PATCH", `/api/sessions/${sessionId}`, {
        title: next,
      });
      title = view.title;
      show();
      edit(false);
    } catch (err) {
      error.textContent = (err as Error).message;
      edit(false);
    } finally {
      saving = false;
    }
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      void save();
    } else if (e.key === "Escape") {
      e.preventDefault();
      edit(false);
    }
  });
  input.addEventListener("blur", () => void save());
  show();
  return h("div.head-title", {}, text, input, rename, error);
}
