import { html as diffHtml } from "diff2html";
import { h } from "./api.ts";
import {
  counts,
  fileAnchor,
  fileFromHash,
  fileTree,
  inTreeOrder,
  STATUS_TONE,
} from "./changes-tree.ts";
import { isViewed, setViewed } from "./changes-viewed.ts";
import { pendingOn } from "./review-comments.ts";
import { commentRow, pendingNote } from "./review-line.ts";
import "./ui/changes.css";

export interface FileDiff {
  path: string;
  status: string;
  /** Where a renamed file was. */
  oldPath?: string;
  added: number;
  removed: number;
  patch: string;
}
type DiffLayout = "line-by-line" | "side-by-side";

const LAYOUT_KEY = "tandem.diffLayout";
const savedDiffLayout = (): DiffLayout =>
  localStorage.getItem(LAYOUT_KEY) === "side-by-side" ? "side-by-side" : "line-by-line";
const saveDiffLayout = (layout: DiffLayout) => localStorage.setItem(LAYOUT_KEY, layout);

// What the person chose on this page, kept across the panel's refreshes after the agent's edits:
// files they opened or closed by hand, folders they closed, whether the tree is shown.
const fileOpen = new Map<string, boolean>();
const closedFolders = new Set<string>();
let treeShown: boolean | null = null;
/** The file last opened from the tree or the address, marked in the tree across refreshes. */
let current: string | null = null;
/** The anchor the page was opened at is scrolled to once, on the panel's first render. */
let anchorPending = fileFromHash() !== null;

/**
 * The Changes panel, as GitHub's review shows it: totals and "n of m viewed", the file tree beside
 * the diff (above it on a narrow screen), and each file's diff under its own header, collapsible,
 * with a Viewed box that collapses it until its diff changes. Clicking a line opens a comment box.
 */
export function changesView(
  sessionId: string,
  changed: FileDiff[],
  totals: { files: number; added: number; removed: number },
): HTMLElement {
  const files = inTreeOrder(changed);
  let layout = savedDiffLayout();
  const viewedCount = h("span.viewed-count", { "data-testid": "viewed-count" });
  const diff = h("div.diff", { "data-testid": "diff", "data-layout": layout });
  const sections = new Map<string, ReturnType<typeof fileSection>>();
  const tree = fileTree(files, closedFolders, (path) => open(path));
  const reflectViewed = () => {
    const viewed = files.filter((f) => isViewed(sessionId, f.path, f.patch));
    viewedCount.textContent = `${viewed.length} of ${files.length} viewed`;
    for (const li of tree.querySelectorAll<HTMLElement>("li.file"))
      li.classList.toggle(
        "viewed",
        viewed.some((f) => f.path === li.dataset.path),
      );
  };
  const renderDiff = () => {
    diff.dataset.layout = layout;
    sections.clear();
    for (const f of files) sections.set(f.path, fileSection(sessionId, f, layout, reflectViewed));
    diff.replaceChildren(...[...sections.values()].map((s) => s.section));
  };
  const open = (path: string) => {
    const target = sections.get(path);
    if (!target) return;
    target.setOpen(true);
    current = path;
    markCurrent();
    history.replaceState(history.state, "", fileAnchor(path));
    target.section.scrollIntoView({ block: "start" });
  };
  const markCurrent = () => {
    for (const a of tree.querySelectorAll("a.tree-file")) a.removeAttribute("aria-current");
    if (current)
      tree
        .querySelector(`li.file[data-path="${CSS.escape(current)}"] a`)
        ?.setAttribute("aria-current", "true");
  };
  renderDiff();
  reflectViewed();
  markCurrent();

  const layoutLabel = () => (layout === "side-by-side" ? "Unified" : "Side by side");
  const layoutToggle = h(
    "button",
    {
      type: "button",
      "data-testid": "diff-layout",
      onclick: () => {
        layout = layout === "side-by-side" ? "line-by-line" : "side-by-side";
        saveDiffLayout(layout);
        layoutToggle.textContent = layoutLabel();
        renderDiff();
      },
    },
    layoutLabel(),
  );

  const shown = treeShown ?? !matchMedia("(max-width: 720px)").matches;
  tree.id = `changes-tree-${sessionId}`;
  tree.hidden = !shown;
  const treeToggle = h(
    "button.tree-toggle",
    {
      type: "button",
      "aria-expanded": String(shown),
      "aria-controls": tree.id,
      "data-testid": "tree-toggle",
      onclick: () => {
        treeShown = tree.hidden;
        tree.hidden = !treeShown;
        treeToggle.setAttribute("aria-expanded", String(treeShown));
      },
    },
    h("span.chevron", { "aria-hidden": "true" }),
    `Files (${files.length})`,
  );

  const view = h(
    "div.changes-view",
    { "data-testid": "changes-view" },
    h(
      "div.changes-head",
      {},
      h(
        "p.summary",
        { "data-testid": "changes-totals" },
        `${totals.files} file${totals.files === 1 ? "" : "s"} `,
        h("span.add", {}, `+${totals.added}`),
        " ",
        h("span.del", {}, `−${totals.removed}`),
      ),
      viewedCount,
      h("span.hint.muted", {}, "Click a line to comment on it for the agent."),
      layoutToggle,
    ),
    h(
      "div.changes-body",
      {},
      h(
        "nav.changes-tree",
        { "aria-label": "Changed files", "data-testid": "changes-tree" },
        treeToggle,
        tree,
      ),
      h("div.diff-layout", {}, diff),
    ),
  );
  const anchor = fileFromHash();
  if (anchorPending && anchor) {
    anchorPending = false;
    requestAnimationFrame(() => open(anchor));
  }
  return view;
}

/** One file: its header (the name opens and closes it, Viewed) over its diff2html table. */
function fileSection(sessionId: string, f: FileDiff, layout: DiffLayout, onViewed: () => void) {
  const bodyId = `diff-${diffIds++}`;
  // Its own scroll box for long lines, reachable by keyboard.
  const body = h("div.file-body", {
    id: bodyId,
    tabindex: "0",
    role: "region",
    "aria-label": `Diff of ${f.path}: arrow keys pick a line, Enter comments on it`,
  });
  body.innerHTML = diffHtml(f.patch, {
    drawFileList: false,
    outputFormat: layout,
    matching: "none",
  });
  body.addEventListener("click", (e) => {
    const row = (e.target as HTMLElement).closest("tr");
    if (row) openComment(sessionId, f.path, layout, body, row);
  });
  const cursorSays = h("span.sr-only", { "aria-live": "polite", "data-testid": "line-cursor" });
  body.addEventListener("keydown", (e) => lineKey(sessionId, f.path, layout, body, cursorSays, e));
  showPending(sessionId, f.path, layout, body);
  // Side by side, each half scrolls on its own: reachable by keyboard too.
  for (const side of body.querySelectorAll(".d2h-file-side-diff"))
    side.setAttribute("tabindex", "0");
  const viewed = h("input", {
    type: "checkbox",
    "data-testid": "viewed",
    checked: isViewed(sessionId, f.path, f.patch),
    onchange: () => {
      setViewed(sessionId, f.path, f.patch, viewed.checked);
      fileOpen.delete(f.path);
      setOpen(!viewed.checked);
      onViewed();
    },
  });
  const toggle = h(
    "button.file-toggle",
    {
      type: "button",
      "aria-controls": bodyId,
      "data-testid": "file-toggle",
      onclick: () => {
        fileOpen.set(f.path, body.hidden);
        setOpen(body.hidden);
      },
    },
    h("span.chevron", { "aria-hidden": "true" }),
    h("span.file-path", {}, f.oldPath ? `${f.oldPath} → ${f.path}` : f.path),
  );
  const section = h(
    "section.file-diff",
    { id: `file-${f.path}`, "data-path": f.path, "data-status": f.status },
    h(
      "header.file-head",
      {},
      toggle,
      h("span.badge", { "data-tone": STATUS_TONE[f.status] ?? "" }, f.status),
      counts(f),
      h("label.viewed", {}, viewed, "Viewed"),
    ),
    body,
    cursorSays,
  );
  const setOpen = (open: boolean) => {
    body.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    section.dataset.open = String(open);
  };
  setOpen(fileOpen.get(f.path) ?? !viewed.checked);
  return { section, setOpen };
}
let diffIds = 0;

/**
 * A click on a diff line (or Enter on the line picked with the arrow keys) opens a comment box
 * under it. Side by side, a line is named by its new number, or by its old one (marked) when it
 * was deleted.
 */
function openComment(
  sessionId: string,
  path: string,
  layout: DiffLayout,
  body: HTMLElement,
  row: HTMLTableRowElement,
) {
  if (
    row.classList.contains("review") ||
    row.querySelector(".d2h-info") ||
    row.nextElementSibling?.classList.contains("review")
  )
    return;
  const target = layout === "side-by-side" ? sideBySideLine(body, row) : unifiedLine(row);
  if (!target) return;
  const spacer = target.twin ? h("tr.review.spacer", {}, h("td", { colspan: "2" })) : null;
  if (spacer) target.twin!.after(spacer);
  row.after(commentRow(sessionId, path, target.line, () => spacer?.remove()));
}

/** The rows a comment can go under, in order (side by side, the new side's). */
function commentableRows(body: HTMLElement, layout: DiffLayout): HTMLTableRowElement[] {
  const tables = [...body.querySelectorAll("tbody")];
  const rows = (layout === "side-by-side" ? tables.slice(-1) : tables).flatMap((t) => [
    ...t.querySelectorAll<HTMLTableRowElement>(":scope > tr"),
  ]);
  return rows.filter(
    (r) =>
      !r.classList.contains("review") &&
      !r.querySelector(".d2h-info") &&
      (layout === "side-by-side" ? sideBySideLine(body, r) : unifiedLine(r)) !== null,
  );
}

/** ↓/↑ (or j/k) move the picked line, Enter comments on it; said to screen readers as it moves. */
function lineKey(
  sessionId: string,
  path: string,
  layout: DiffLayout,
  body: HTMLElement,
  says: HTMLElement,
  e: KeyboardEvent,
) {
  if ((e.target as HTMLElement).closest("tr.review, textarea, input, button")) return;
  const rows = commentableRows(body, layout);
  let at = rows.findIndex((r) => r.classList.contains("picked"));
  if (e.key === "ArrowDown" || e.key === "j") at = Math.min(at + 1, rows.length - 1);
  else if (e.key === "ArrowUp" || e.key === "k") at = Math.max(at - 1, 0);
  else if (e.key === "Enter" && at >= 0) {
    e.preventDefault();
    return openComment(sessionId, path, layout, body, rows[at]!);
  } else return;
  e.preventDefault();
  const row = rows[at];
  if (!row) return;
  for (const r of body.querySelectorAll("tr.picked")) r.classList.remove("picked");
  row.classList.add("picked");
  row.scrollIntoView({ block: "nearest" });
  const target = layout === "side-by-side" ? sideBySideLine(body, row) : unifiedLine(row);
  const code = row.querySelector(".d2h-code-line-ctn")?.textContent ?? "";
  says.textContent = `Line ${target?.line ?? ""}: ${code.trim()}`;
}

/** Comments kept for the next message, under their lines again after a reload or a refresh. */
function showPending(sessionId: string, path: string, layout: DiffLayout, body: HTMLElement) {
  // Side by side, the new side's row first: a line is named by its new number there.
  const rows = [...body.querySelectorAll("tbody")]
    .reverse()
    .flatMap((t) => [...t.querySelectorAll<HTMLTableRowElement>(":scope > tr")]);
  for (const c of pendingOn(sessionId, path)) {
    for (const row of rows) {
      const target = layout === "side-by-side" ? sideBySideLine(body, row) : unifiedLine(row);
      if (target?.line !== c.line || row.nextElementSibling?.classList.contains("review")) continue;
      const spacer = target.twin ? h("tr.review.spacer", {}, h("td", { colspan: "2" })) : null;
      if (spacer) target.twin!.after(spacer);
      row.after(pendingNote(sessionId, c, () => spacer?.remove()));
      break;
    }
  }
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
