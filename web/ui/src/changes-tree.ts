import { h } from "./api.ts";
import type { FileDiff } from "./review.ts";

interface Folder {
  name: string;
  folders: Map<string, Folder>;
  files: FileDiff[];
}

/** The changed files as folders; a folder holding only one folder is shown as one (`src/app`). */
function folderTree(files: FileDiff[]): Folder {
  const root: Folder = { name: "", folders: new Map(), files: [] };
  for (const f of files) {
    const parts = f.path.split("/");
    let at = root;
    for (const part of parts.slice(0, -1)) {
      let next = at.folders.get(part);
      if (!next) at.folders.set(part, (next = { name: part, folders: new Map(), files: [] }));
      at = next;
    }
    at.files.push(f);
  }
  const squash = (folder: Folder): Folder => {
    for (const [key, child] of folder.folders) folder.folders.set(key, squash(child));
    const [only] = folder.folders.values();
    if (folder.name && folder.files.length === 0 && folder.folders.size === 1 && only)
      return { ...only, name: `${folder.name}/${only.name}` };
    return folder;
  };
  return squash(root);
}

const byName = (folder: Folder) => ({
  folders: [...folder.folders.values()].sort((a, b) => a.name.localeCompare(b.name)),
  files: [...folder.files].sort((a, b) => a.path.localeCompare(b.path)),
});

/** The files in the order the tree shows them (folders first), which the diff follows too. */
export function inTreeOrder(files: FileDiff[]): FileDiff[] {
  const walk = (folder: Folder): FileDiff[] => {
    const sorted = byName(folder);
    return [...sorted.folders.flatMap(walk), ...sorted.files];
  };
  return walk(folderTree(files));
}

export const STATUS_TONE: Record<string, string> = {
  added: "success",
  deleted: "danger",
  renamed: "warning",
  modified: "accent",
};

export const counts = (f: FileDiff) =>
  h("span.counts", {}, h("span.add", {}, `+${f.added}`), " ", h("span.del", {}, `−${f.removed}`));

/** The file named by a `#file-<path>` anchor in the page's address, if it has one. */
export function fileFromHash(hash = location.hash): string | null {
  if (!hash.startsWith("#file-")) return null;
  try {
    return decodeURIComponent(hash.slice("#file-".length));
  } catch {
    return hash.slice("#file-".length);
  }
}

export const fileAnchor = (path: string) => `#file-${encodeURI(path)}`;

/**
 * The file tree beside the diff: folders open and close (remembered in `closed` for the page's
 * life), each file links to its diff (`#file-<path>`) with its status and counts.
 */
export function fileTree(
  files: FileDiff[],
  closed: Set<string>,
  open: (path: string) => void,
): HTMLElement {
  const list = (folder: Folder, prefix: string): HTMLUListElement => {
    const ul = h("ul.tree-list", { role: "list" });
    const sorted = byName(folder);
    for (const sub of sorted.folders) {
      const path = prefix + sub.name;
      const children = list(sub, `${path}/`);
      const shut = closed.has(path);
      children.hidden = shut;
      const toggle = h(
        "button.tree-folder",
        {
          type: "button",
          "aria-expanded": String(!shut),
          "data-testid": "tree-folder",
          "data-folder": path,
          onclick: () => {
            const hide = !children.hidden;
            children.hidden = hide;
            toggle.setAttribute("aria-expanded", String(!hide));
            if (hide) closed.add(path);
            else closed.delete(path);
          },
        },
        h("span.chevron", { "aria-hidden": "true" }),
        `${sub.name}/`,
      );
      ul.append(h("li.folder", {}, toggle, children));
    }
    for (const f of sorted.files) {
      const link = h(
        "a.tree-file",
        {
          href: fileAnchor(f.path),
          "data-testid": "tree-file",
          title: f.oldPath ? `${f.path} (was ${f.oldPath})` : f.path,
          onclick: (e: MouseEvent) => {
            e.preventDefault();
            open(f.path);
          },
        },
        h("span.name", {}, f.path.split("/").at(-1) ?? f.path),
        h("span.badge", { "data-tone": STATUS_TONE[f.status] ?? "" }, f.status),
        counts(f),
      );
      ul.append(h("li.file", { "data-path": f.path, "data-status": f.status }, link));
    }
    return ul;
  };
  return list(folderTree(files), "");
}
