import { html as diffHtml } from "diff2html";
import { api, h } from "./api.ts";

export interface FileDiff {
  path: string;
  status: string;
  added: number;
  removed: number;
  patch: string;
}
type DiffLayout = "line-by-line" | "side-by-side";

const LAYOUT_KEY = "tandem.diffLayout";
const savedDiffLayout = (): DiffLayout =>
  localStorage.getItem(LAYOUT_KEY) === "side-by-side" ? "side-by-side" : "line-by-line";
const saveDiffLayout = (layout: DiffLayout) => localStorage.setItem(LAYOUT_KEY, layout);

/** The diff in the remembered layout, and the button that switches unified ↔ side by side. */
export function reviewableDiffWithLayout(
  sessionId: string,
  files: FileDiff[],
): { toggle: HTMLButtonElement; diff: HTMLElement } {
  let layout = savedDiffLayout();
  const label = () => (layout === "side-by-side" ? "Unified" : "Side by side");
  const diff = h("div.diff-layout", {}, renderReviewableDiff(sessionId, files, layout));
  const toggle = h(
    "button",
    {
      type: "button",
      "data-testid": "diff-layout",
      onclick: () => {
        layout = layout === "side-by-side" ? "line-by-line" : "side-by-side";
        saveDiffLayout(layout);
        toggle.textContent = label();
        diff.replaceChildren(renderReviewableDiff(sessionId, files, layout));
      },
    },
    label(),
  );
  return { toggle, diff };
}

/**
 * One diff2html block per file (so every line knows its file); clicking a line opens a comment
 * box whose text goes to the agent as a follow-up: "Review comment on <file>:<line>: <text>".
 * Side by side, a line is named by its new number, or by its old one (marked) when it was deleted.
 */
function renderReviewableDiff(
  sessionId: string,
  files: FileDiff[],
  layout: DiffLayout = "line-by-line",
): HTMLElement {
  const diff = h("div.diff", { "data-testid": "diff", "data-layout": layout });
  for (const f of files) {
    const block = h("div.file-diff", { "data-path": f.path });
    block.innerHTML = diffHtml(f.patch, {
      drawFileList: false,
      outputFormat: layout,
      matching: "none",
    });
    block.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest("tr");
      if (
        !row ||
        row.classList.contains("review") ||
        row.querySelector(".d2h-info") ||
        row.nextElementSibling?.classList.contains("review")
      )
        return;
      const target = layout === "side-by-side" ? sideBySideLine(block, row) : unifiedLine(row);
      if (!target) return;
      const spacer = target.twin ? h("tr.review.spacer", {}, h("td", { colspan: "2" })) : null;
      if (spacer) target.twin!.after(spacer);
      row.after(commentRow(sessionId, f.path, target.line, () => spacer?.remove()));
    });
    diff.append(block);
  }
  return diff;
}

function unifiedLine(
  row: HTMLTableRowElement,
): { line: string; twin?: HTMLTableRowElement } | null {
  const line =
    row.querySelector(".line-num2")?.textContent?.trim() ||
    row.querySelector(".line-num1")?.textContent?.trim();
  return line ? { line } : null;
}

/** The two sides are separate tables with aligned rows; the comment box gets a spacer on the other side. */
function sideBySideLine(
  block: HTMLElement,
  row: HTMLTableRowElement,
): { line: string; twin?: HTMLTableRowElement } | null {
  const [left, right] = [...block.querySelectorAll(".d2h-file-side-diff tbody")];
  const rows = (body: Element | undefined) =>
    [...(body?.children ?? [])].filter(
      (r) => !r.classList.contains("review"),
    ) as HTMLTableRowElement[];
  const side = row.parentElement === left ? left : right;
  const index = rows(side).indexOf(row);
  const twin = rows(side === left ? right : left)[index];
  const number = (r: HTMLTableRowElement | undefined) =>
    r?.querySelector(".d2h-code-side-linenumber")?.textContent?.trim() ?? "";
  const [oldLine, newLine] =
    side === left ? [number(row), number(twin)] : [number(twin), number(row)];
  const line = newLine || (oldLine ? `${oldLine} (old)` : "");
  return line ? { line, twin } : null;
}

function commentRow(
  sessionId: string,
  path: string,
  line: string,
  onClose: () => void,
): HTMLTableRowElement {
  const text = h("textarea", {
    rows: "2",
    placeholder: `Comment on ${path}:${line} for the agent…`,
    "data-testid": "review-text",
  });
  const error = h("span.error");
  const row = h("tr.review", { "data-line": line });
  const form = h(
    "form.review-form",
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (!text.value.trim()) return;
        try {
          await api("POST", `/api/sessions/${sessionId}/messages`, {
            text: `Review comment on ${path}:${line}: ${text.value.trim()}`,
          });
          cell.replaceChildren(
            h(
              "span.muted",
              { "data-testid": "review-sent" },
              `Sent to the agent: ${path}:${line}: ${text.value.trim()}`,
            ),
          );
        } catch (err) {
          error.textContent = (err as Error).message;
        }
      },
    },
    text,
    h("button", { type: "submit", "data-testid": "review-send" }, "Comment"),
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
    error,
  );
  const cell = h("td", { colspan: "2" }, form);
  row.append(cell);
  queueMicrotask(() => text.focus());
  return row;
}
