import { api, h } from "./api.ts";

const MAX_BYTES = 5 * 1024 * 1024;

const base64Of = (file: File) =>
  new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(reader.error ?? new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });

/** The follow-up box's attach control: files picked here are uploaded into the checkout before the message is sent. */
export function attachControl(sessionId: string) {
  let pending: File[] = [];
  const chips = h("span.attachments", { "data-testid": "attachments" });
  const input = h("input", {
    type: "file",
    multiple: true,
    hidden: true,
    "data-testid": "attach-input",
  });
  const render = () =>
    chips.replaceChildren(
      ...pending.map((f, i) =>
        h(
          "span.chip",
          {},
          f.name,
          h(
            "button",
            {
              type: "button",
              title: "Remove",
              onclick: () => {
                pending.splice(i, 1);
                render();
              },
            },
            "×",
          ),
        ),
      ),
    );
  const add = (files: File[]) => {
    pending.push(...files);
    render();
  };
  input.addEventListener("change", () => {
    add(Array.from(input.files ?? []));
    input.value = "";
  });
  const button = h(
    "button",
    {
      type: "button",
      "data-testid": "attach",
      title: "Attach files for the agent (or paste or drop them here)",
      onclick: () => input.click(),
    },
    "Attach",
  );
  return {
    element: h("span.attach", {}, input, button, chips),
    hasFiles: () => pending.length > 0,
    /** Takes files pasted into, or dropped onto, `target` (the composer) as attachments. */
    acceptFrom(target: HTMLElement) {
      // An ended session's composer is disabled: it takes no files either.
      const closed = () => button.disabled;
      target.addEventListener("paste", (e: ClipboardEvent) => {
        const files = Array.from(e.clipboardData?.files ?? []);
        if (!files.length || closed()) return;
        e.preventDefault();
        add(files);
      });
      target.addEventListener("dragover", (e: DragEvent) => {
        if (!e.dataTransfer?.types.includes("Files") || closed()) return;
        e.preventDefault();
        target.classList.add("dropping");
      });
      target.addEventListener("dragleave", () => target.classList.remove("dropping"));
      target.addEventListener("drop", (e: DragEvent) => {
        target.classList.remove("dropping");
        const files = Array.from(e.dataTransfer?.files ?? []);
        if (!files.length || closed()) return;
        e.preventDefault();
        add(files);
      });
    },
    /** Uploads every pending file; returns their paths in the repository. */
    async upload(): Promise<string[]> {
      const tooBig = pending.find((f) => f.size > MAX_BYTES);
      if (tooBig) throw new Error(`${tooBig.name} is larger than 5 MB`);
      const paths: string[] = [];
      for (const file of pending) {
        const { path } = await api<{ path: string }>(
          "POST",
          `/api/sessions/${sessionId}/attachments`,
          { name: file.name, contentBase64: await base64Of(file) },
        );
        paths.push(path);
      }
      pending = [];
      render();
      return paths;
    },
  };
}
