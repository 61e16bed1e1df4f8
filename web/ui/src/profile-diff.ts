import { h } from "./api.ts";
import { bytes, type ProfileSpec } from "./profile-form.ts";

/** One field that differs between the published version and the draft; null where it is left out. */
interface SpecChange {
  field: string;
  before: string | null;
  after: string | null;
}

const list = (xs: string[] | undefined) => (xs?.length ? xs.join(", ") : null);

/** A spec as labelled values, one per field a person would name; left-out fields are absent. */
function fields(spec: ProfileSpec): Map<string, string> {
  const out = new Map<string, string | null | undefined>([
    ["Description", spec.description],
    [
      "Repositories",
      list(spec.repositories.map((r) => (r.primary ? `${r.name} (primary)` : r.name))),
    ],
    ["Image", spec.image],
    ["Setup script", spec.setupScript || null],
    ...Object.entries(spec.env).map(([k, v]) => [`Variable ${k}`, v] as [string, string]),
    ["Egress", spec.network.egress],
    ["Allowed hosts", list(spec.network.allow)],
    ["Host network", spec.hostNetwork ? "yes" : null],
    ["CPUs", spec.limits?.cpus?.toString()],
    ["Memory", spec.limits?.memoryBytes ? bytes(spec.limits.memoryBytes) : null],
    ["Processes", spec.limits?.pids?.toString()],
    ["Disk", spec.limits?.diskBytes ? bytes(spec.limits.diskBytes) : null],
    ["Agent", spec.agent.kind],
    ["Model", spec.agent.model],
    ["Reasoning effort", spec.agent.reasoningEffort],
    ["Command", spec.agent.command?.join(" ")],
    ["Idle minutes", spec.idleMinutes?.toString()],
    ["Persistent sandbox", spec.persistent?.enabled ? "yes" : null],
    ["Persistent paths", list(spec.persistent?.paths)],
    ["Start sessions from", list([...spec.integrations].sort())],
  ]);
  return new Map(
    [...out].filter((e): e is [string, string] => e[1] !== null && e[1] !== undefined),
  );
}

/** The fields that differ, in the form's order. */
function specChanges(published: ProfileSpec, draft: ProfileSpec): SpecChange[] {
  const a = fields(published);
  const b = fields(draft);
  const names = [...new Set([...b.keys(), ...a.keys()])];
  return names
    .filter((n) => a.get(n) !== b.get(n))
    .map((n) => ({ field: n, before: a.get(n) ?? null, after: b.get(n) ?? null }));
}

/** A line diff (longest common subsequence): each line kept, removed or added. */
function lineDiff(before: string, after: string): Array<[" " | "-" | "+", string]> {
  const a = before.split("\n");
  const b = after.split("\n");
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: Array<[" " | "-" | "+", string]> = [];
  let i = 0;
  let j = 0;
  // Removals before additions where both fit, as diff prints them.
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push([" ", a[i++]!]);
      j++;
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!))
      out.push(["-", a[i++]!]);
    else out.push(["+", b[j++]!]);
  }
  return out;
}

const value = (v: string | null) => (v === null ? h("em.muted", {}, "default") : h("code", {}, v));

/**
 * The draft against the newest published version, field by field (the setup script as a line
 * diff), into `pane`; `version` is null before the first publish.
 */
export function renderDiff(
  pane: HTMLElement,
  draft: ProfileSpec,
  published: { version: number; spec: ProfileSpec } | null,
) {
  if (!published) {
    pane.dataset.changes = "all";
    pane.replaceChildren(
      h("h3", {}, "Changes"),
      h("p.muted", {}, "Not published yet: the first Publish makes all of this v1."),
    );
    return;
  }
  const changes = specChanges(published.spec, draft);
  pane.dataset.changes = String(changes.length);
  pane.replaceChildren(
    h("h3", {}, `Changes from v${published.version}`),
    changes.length
      ? h(
          "ul.diff",
          {},
          ...changes.map((c) =>
            h(
              "li",
              { "data-testid": "draft-change", "data-field": c.field },
              h("strong", {}, c.field),
              c.field === "Setup script"
                ? h(
                    "pre.line-diff",
                    {},
                    ...lineDiff(c.before ?? "", c.after ?? "").map(([op, line]) =>
                      h(op === "+" ? "ins" : op === "-" ? "del" : "span", {}, `${op} ${line}\n`),
                    ),
                  )
                : h(
                    "span.change",
                    {},
                    value(c.before),
                    h("span", { "aria-hidden": "true" }, " → "),
                    h("span.sr-only", {}, " becomes "),
                    value(c.after),
                  ),
            ),
          ),
        )
      : h(
          "p.muted",
          {},
          `The draft is the same as v${published.version}: Publish has nothing new.`,
        ),
  );
}
