import { html as diffHtml } from "diff2html";
import { api, h } from "./api.ts";

export interface FileDiff { path: string; status: string; added: number; removed: number; patch: string }

/**
 * One diff2html block per file (so every line knows its file); clicking a line opens a comment
 * box whose text goes to the agent as a follow-up: "Review comment on <file>:<line>: <text>".
 */
export function renderReviewableDiff(sessionId: string, files: FileDiff[]): HTMLElement {
  const diff = h("div.diff", { "data-testid": "diff" });
  for (const f of files) {
    const block = h("div.file-diff", { "data-path": f.path });
    block.innerHTML = diffHtml(f.patch, { drawFileList: false, outputFormat: "line-by-line", matching: "none" });
    block.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest("tr");
      if (!row || row.classList.contains("review") || row.querySelector(".d2h-info") || row.nextElementSibling?.classList.contains("review")) return;
      const line = row.querySelector(".line-num2")?.textContent?.trim() || row.querySelector(".line-num1")?.textContent?.trim();
      if (!line) return;
      row.after(commentRow(sessionId, f.path, line));
    });
    diff.append(block);
  }
  return diff;
}

function commentRow(sessionId: string, path: string, line: string): HTMLTableRowElement {
  const text = h("textarea", { rows: "2", placeholder: `Comment on ${path}:${line} for the agent…`, "data-testid": "review-text" });
  const error = h("span.error");
  const row = h("tr.review", { "data-line": line });
  const form = h("form.review-form", {
    onsubmit: async (e: Event) => {
      e.preventDefault();
      if (!text.value.trim()) return;
      try {
        await api("POST", `/api/sessions/${sessionId}/messages`, { text: `Review comment on ${path}:${line}: ${text.value.trim()}` });
        cell.replaceChildren(h("span.muted", { "data-testid": "review-sent" }, `Sent to the agent: ${path}:${line}: ${text.value.trim()}`));
      } catch (err) {
        error.textContent = (err as Error).message;
      }
    },
  }, text, h("button", { type: "submit", "data-testid": "review-send" }, "Comment"), h("button", { type: "button", onclick: () => row.remove() }, "Cancel"), error);
  const cell = h("td", { colspan: "2" }, form);
  row.append(cell);
  queueMicrotask(() => text.focus());
  return row;
}
