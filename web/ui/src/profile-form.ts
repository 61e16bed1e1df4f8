import { h } from "./api.ts";

/** A profile version's spec as GET /api/profiles/:name returns it (core/src/profiles/spec.ts). */
export interface ProfileSpec {
  description?: string;
  image?: string;
  agent: { kind?: string; model?: string; reasoningEffort?: string; command?: string[] };
  repositories: Array<{ name: string; primary?: boolean }>;
  setupScript: string;
  env: Record<string, string>;
  limits?: { cpus?: number; memoryBytes?: number; pids?: number; diskBytes?: number };
  network: { egress: string; allow: string[] };
  hostNetwork?: true;
  idleMinutes?: number;
  integrations: string[];
  persistent?: { enabled: boolean; paths?: string[] };
}

/** What a field left out comes to on this instance (core/src/profiles/defaults.ts). */
export interface ProfileDefaults {
  image: string;
  agent: { kind: string; model: string };
  limits: {
    cpus: number | null;
    memoryBytes: number | null;
    pids: number | null;
    diskBytes: number | null;
  };
  idleMinutes: number;
  network: { egress: string };
}

const AGENT_KINDS = ["codex", "claude-code", "command"];
const EFFORTS = ["", "minimal", "low", "medium", "high"];
const EGRESS = [
  ["none", "none: only the gateway and integrations"],
  ["allowlist", "allowlist: also the hosts below"],
  ["open", "open: any public host"],
];
const INTEGRATIONS = ["slack", "github", "linear", "jira", "discord"];
const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

/** "4 GiB", "512 MiB". */
export const bytes = (n: number) =>
  n >= GIB && n % GIB === 0 ? `${n / GIB} GiB` : `${n / MIB} MiB`;

const lines = (text: string) =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
const text = (value: string | undefined, attrs: Record<string, string> = {}) =>
  h("input", { type: "text", value: value ?? "", ...attrs });
const num = (value: number | undefined, attrs: Record<string, string> = {}) =>
  h("input", {
    type: "number",
    min: "0",
    value: value === undefined ? "" : String(value),
    ...attrs,
  });
const field = (label: string, input: HTMLElement, hint?: string | null) =>
  h("label.field", {}, h("span", {}, label), input, hint ? h("small.hint", {}, hint) : null);
/** Several controls under one name: a fieldset, so each control keeps its own label. */
const group = (label: string, content: HTMLElement, hint?: string) =>
  h(
    "fieldset.field.group",
    {},
    h("legend", {}, label),
    content,
    hint ? h("small.hint", {}, hint) : null,
  );
const section = (title: string, testid: string, ...children: HTMLElement[]) =>
  h("section.spec-section", { "data-testid": testid }, h("h3", {}, title), ...children);
/** A number input's value, or undefined when empty; `scale` turns MiB/GiB into bytes. */
const numberOf = (input: HTMLInputElement, scale = 1) =>
  input.value.trim() === "" ? undefined : Math.round(Number(input.value) * scale);
const optional = (value: string) => (value.trim() === "" ? undefined : value.trim());

/**
 * The draft's spec as a form in sections (Basics, Environment, Network, Resources, and Advanced,
 * folded unless the spec sets something in it), each empty field showing what it defaults to.
 * `read()` gives the shape PUT /api/profiles/:name/draft takes (empty fields are left out, so the
 * defaults apply). The server validates; its 400 message names what is wrong. `readOnly`
 * disables every control.
 */
export function specForm(
  spec: ProfileSpec,
  opts: {
    readOnly: boolean;
    repositories: string[];
    name: string;
    defaults: ProfileDefaults | null;
  },
) {
  const d = opts.defaults;
  const defaultHint = (what: string | null | undefined) => (what ? `default: ${what}` : null);

  const description = h("textarea", {
    rows: "2",
    maxlength: "500",
    placeholder: "what this profile is for, e.g. Node 22 with the monorepo's packages installed",
    "data-testid": "spec-description",
  });
  description.value = spec.description ?? "";

  // Repositories: one row each, a radio marks the primary (the first one when none is marked).
  const repoRows = h("ul.rows", { "data-testid": "spec-repositories" });
  const addRepo = (name: string, primary: boolean) => {
    const radio = h("input", {
      type: "radio",
      name: "primary-repository",
      checked: primary,
      "aria-label": `${name} is the primary repository`,
    });
    const row = h(
      "li",
      { "data-testid": "spec-repository", "data-name": name },
      h("code", {}, name),
      h("label.check-label", {}, radio, " primary"),
      h(
        "button.ghost",
        { type: "button", "aria-label": `Remove ${name}`, onclick: () => row.remove() },
        "Remove",
      ),
    );
    repoRows.append(row);
  };
  for (const r of spec.repositories) addRepo(r.name, Boolean(r.primary));
  const repoPicker = h(
    "select",
    { "data-testid": "spec-repository-pick", "aria-label": "Add a repository" },
    h("option", { value: "" }, "Add a repository…"),
    ...opts.repositories.map((r) => h("option", { value: r }, r)),
  );
  repoPicker.addEventListener("change", () => {
    const taken = [...repoRows.children].some(
      (r) => (r as HTMLElement).dataset.name === repoPicker.value,
    );
    if (repoPicker.value && !taken) addRepo(repoPicker.value, false);
    repoPicker.value = "";
  });

  const image = text(spec.image, {
    placeholder: "default",
    "data-testid": "spec-image",
  });
  const setupScript = h("textarea.code", {
    rows: "8",
    spellcheck: "false",
    placeholder: "runs once with bash -lc in the workspace, after the repositories are cloned",
    "data-testid": "spec-setup-script",
  });
  setupScript.value = spec.setupScript;

  // Env: name/value rows; values are textareas so multi-line values survive a round trip.
  const envRows = h("ul.rows", { "data-testid": "spec-env" });
  let envCount = 0;
  const addEnv = (name = "", value = "") => {
    const n = ++envCount;
    const valueInput = h("textarea", {
      rows: "1",
      placeholder: "value",
      "aria-label": `Value of variable ${n}`,
      "data-testid": "spec-env-value",
    });
    valueInput.value = value;
    const row = h(
      "li.env",
      {},
      text(name, {
        placeholder: "NAME",
        "aria-label": `Name of variable ${n}`,
        "data-testid": "spec-env-name",
      }),
      valueInput,
      h(
        "button.ghost",
        { type: "button", "aria-label": `Remove variable ${n}`, onclick: () => row.remove() },
        "Remove",
      ),
    );
    envRows.append(row);
  };
  for (const [k, v] of Object.entries(spec.env)) addEnv(k, v);

  const egress = h(
    "select",
    { "data-testid": "spec-egress" },
    ...EGRESS.map(([v, label]) => h("option", { value: v! }, label!)),
  );
  egress.value = spec.network.egress;
  const allow = h("textarea", {
    rows: "3",
    spellcheck: "false",
    placeholder: "one host per line, e.g. registry.npmjs.org or *.pypi.org",
    "data-testid": "spec-allow",
  });
  allow.value = spec.network.allow.join("\n");
  const allowField = field(
    "Allowed hosts",
    allow,
    "the sandbox reaches these through the egress proxy (HTTPS_PROXY)",
  );
  const showAllow = () => {
    allowField.hidden = egress.value !== "allowlist";
  };
  egress.addEventListener("change", showAllow);
  showAllow();

  const limit = (v: number | null | undefined, show: (n: number) => string) =>
    v === null || v === undefined ? "" : show(v);
  const cpus = num(spec.limits?.cpus, {
    step: "0.5",
    placeholder: "default",
    "data-testid": "spec-cpus",
  });
  const memory = num(spec.limits?.memoryBytes && spec.limits.memoryBytes / MIB, {
    step: "1",
    placeholder: "default",
    "data-testid": "spec-memory",
  });
  const pids = num(spec.limits?.pids, {
    step: "1",
    placeholder: "default",
    "data-testid": "spec-pids",
  });
  const disk = num(spec.limits?.diskBytes && spec.limits.diskBytes / GIB, {
    step: "1",
    placeholder: d && d.limits.diskBytes === null ? "no cap" : "default",
    "data-testid": "spec-disk",
  });

  // No kind: the agent the install is configured with.
  const kind = h(
    "select",
    { "data-testid": "spec-agent-kind" },
    h("option", { value: "" }, d ? `default (${d.agent.kind})` : "configured (AGENT)"),
    ...AGENT_KINDS.map((k) => h("option", { value: k }, k)),
  );
  kind.value = spec.agent.kind ?? "";
  const model = text(spec.agent.model, {
    placeholder: "default",
    "data-testid": "spec-agent-model",
  });
  const effort = h(
    "select",
    { "data-testid": "spec-agent-effort" },
    ...EFFORTS.map((e) => h("option", { value: e }, e || "default (the agent's own)")),
  );
  effort.value = spec.agent.reasoningEffort ?? "";
  const command = h("textarea", {
    rows: "2",
    placeholder: "one argument per line",
    "data-testid": "spec-agent-command",
  });
  command.value = (spec.agent.command ?? []).join("\n");
  const commandField = field(
    "Command",
    command,
    "for the command agent: argv of a CLI that prints Tandem's JSONL events",
  );
  const showCommand = () => {
    commandField.hidden = kind.value !== "command";
  };
  kind.addEventListener("change", showCommand);
  showCommand();
  const idle = num(spec.idleMinutes, {
    step: "1",
    placeholder: "default",
    "data-testid": "spec-idle",
  });
  const persistent = h("input", {
    type: "checkbox",
    checked: Boolean(spec.persistent?.enabled),
    "data-testid": "spec-persistent",
  });
  const paths = h("textarea", {
    rows: "2",
    placeholder: "one absolute path per line",
    "aria-label": "Persistent paths",
    "data-testid": "spec-persistent-paths",
  });
  paths.value = (spec.persistent?.paths ?? []).join("\n");
  const integrations = INTEGRATIONS.map((i) =>
    h("input", {
      type: "checkbox",
      value: i,
      checked: spec.integrations.includes(i),
      "data-testid": `spec-integration-${i}`,
    }),
  );
  // Folded unless the spec sets something in it, so a saved choice is never out of sight.
  const advancedSet = Boolean(
    spec.agent.kind ||
    spec.agent.model ||
    spec.agent.reasoningEffort ||
    spec.idleMinutes !== undefined ||
    spec.persistent?.enabled ||
    spec.persistent?.paths?.length ||
    spec.integrations.length !== INTEGRATIONS.length,
  );

  const element = h(
    "fieldset.spec",
    { disabled: opts.readOnly, "data-testid": "spec-form" },
    h("legend.sr-only", {}, `The draft of ${opts.name}`),
    section(
      "Basics",
      "spec-basics",
      h(
        "div.grid-fields",
        {},
        field(
          "Name",
          h("input", {
            type: "text",
            value: opts.name,
            readonly: true,
            "data-testid": "spec-name",
          }),
          "profiles keep their name",
        ),
      ),
      field("Description", description, "what it is for, for the people who pick it"),
      group(
        "Repositories",
        h("div", {}, repoRows, opts.readOnly ? null : repoPicker),
        "cloned into the snapshot; sessions that name no repository work in the primary one (the first when none is marked)",
      ),
    ),
    section(
      "Environment",
      "spec-environment",
      field("Image", image, defaultHint(d?.image)),
      field("Setup script", setupScript, "its result is the snapshot sessions start from"),
      group(
        "Environment variables",
        h(
          "div",
          {},
          envRows,
          opts.readOnly
            ? null
            : h(
                "button",
                { type: "button", "data-testid": "spec-env-add", onclick: () => addEnv() },
                "Add variable",
              ),
        ),
        "non-secret only: everything here ends up inside the sandbox",
      ),
    ),
    section(
      "Network",
      "spec-network",
      field(
        "Egress",
        egress,
        spec.hostNetwork
          ? "this version uses the host's network (hostNetwork): no policy applies"
          : `where the sandbox may connect; default: ${d?.network.egress ?? "none"}`,
      ),
      allowField,
    ),
    section(
      "Resources",
      "spec-resources",
      h(
        "div.grid-fields",
        {},
        field(
          "CPUs",
          cpus,
          defaultHint(limit(d?.limits.cpus, (n) => `${n} CPU${n === 1 ? "" : "s"}`)),
        ),
        field("Memory (MiB)", memory, defaultHint(limit(d?.limits.memoryBytes, bytes))),
        field("Processes", pids, defaultHint(limit(d?.limits.pids, String))),
        field(
          "Disk (GiB)",
          disk,
          d ? defaultHint(limit(d.limits.diskBytes, bytes) || "no cap") : null,
        ),
      ),
    ),
    h(
      "details.spec-section.advanced",
      { open: advancedSet, "data-testid": "spec-advanced" },
      h("summary", {}, h("h3", {}, "Advanced")),
      h(
        "div.grid-fields",
        {},
        field("Agent", kind, defaultHint(d?.agent.kind)),
        field("Model", model, defaultHint(d?.agent.model)),
        field("Reasoning effort", effort),
      ),
      commandField,
      h(
        "div.grid-fields",
        {},
        field(
          "Idle minutes",
          idle,
          `a quiet session keeps its sandbox this long${d ? `; default: ${d.idleMinutes} minutes` : ""}`,
        ),
      ),
      group(
        "Persistent sandbox",
        h(
          "div",
          {},
          h(
            "label.check-label",
            {},
            persistent,
            " keep these paths in volumes across restarts (the org must allow it)",
          ),
          paths,
        ),
        "default paths: the workspace and the agent's home",
      ),
      group(
        "Start sessions from",
        h(
          "div.checks",
          {},
          ...integrations.map((c) => h("label.check-label", {}, c, ` ${c.value}`)),
        ),
        "besides the API and the workbench",
      ),
    ),
  );

  const read = (): ProfileSpec => {
    const primary = [...repoRows.children].find(
      (r) => (r.querySelector("input[type=radio]") as HTMLInputElement).checked,
    ) as HTMLElement | undefined;
    const limits = {
      cpus: numberOf(cpus),
      memoryBytes: numberOf(memory, MIB),
      pids: numberOf(pids),
      diskBytes: numberOf(disk, GIB),
    };
    const setLimits = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
    const pathList = lines(paths.value);
    return {
      ...(optional(description.value) ? { description: optional(description.value) } : {}),
      ...(optional(image.value) ? { image: optional(image.value) } : {}),
      agent: {
        ...(kind.value ? { kind: kind.value } : {}),
        ...(optional(model.value) ? { model: optional(model.value) } : {}),
        ...(effort.value ? { reasoningEffort: effort.value } : {}),
        ...(kind.value === "command" && lines(command.value).length
          ? { command: lines(command.value) }
          : {}),
      },
      repositories: [...repoRows.children].map((r) => ({
        name: (r as HTMLElement).dataset.name!,
        ...(r === primary ? { primary: true } : {}),
      })),
      setupScript: setupScript.value,
      env: Object.fromEntries(
        [...envRows.children]
          .map((r) => [
            (r.querySelector("input") as HTMLInputElement).value.trim(),
            (r.querySelector("textarea") as HTMLTextAreaElement).value,
          ])
          .filter(([k, v]) => k || v),
      ),
      ...(Object.keys(setLimits).length ? { limits: setLimits } : {}),
      network: { egress: egress.value, allow: lines(allow.value) },
      ...(spec.hostNetwork ? { hostNetwork: true as const } : {}),
      ...(numberOf(idle) !== undefined ? { idleMinutes: numberOf(idle) } : {}),
      integrations: integrations.filter((c) => c.checked).map((c) => c.value),
      ...(persistent.checked || pathList.length
        ? {
            persistent: {
              enabled: persistent.checked,
              ...(pathList.length ? { paths: pathList } : {}),
            },
          }
        : {}),
    };
  };
  return { element, read, setupScript };
}
