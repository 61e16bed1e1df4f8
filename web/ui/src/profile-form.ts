import { h } from "./api.ts";

/** A profile version's spec as GET /api/profiles/:name returns it (core/src/profiles/spec.ts). */
export interface ProfileSpec {
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
const field = (label: string, input: HTMLElement, hint?: string) =>
  h("label.field", {}, h("span", {}, label), input, hint ? h("small.muted", {}, hint) : null);
/** A number input's value, or undefined when empty; `scale` turns MiB/GiB into bytes. */
const numberOf = (input: HTMLInputElement, scale = 1) =>
  input.value.trim() === "" ? undefined : Math.round(Number(input.value) * scale);
const optional = (value: string) => (value.trim() === "" ? undefined : value.trim());

/**
 * The draft's spec as a form: every field of the spec, read back with `read()` into the shape
 * PUT /api/profiles/:name/draft takes (empty fields are left out, so the configured defaults apply).
 * The server validates; its 400 message names what is wrong. `readOnly` disables every control.
 */
export function specForm(spec: ProfileSpec, opts: { readOnly: boolean; repositories: string[] }) {
  const image = text(spec.image, {
    placeholder: "the configured SANDBOX_IMAGE",
    "data-testid": "spec-image",
  });
  // No kind: the agent the install is configured with (AGENT).
  const kind = h(
    "select",
    { "data-testid": "spec-agent-kind" },
    h("option", { value: "" }, "configured (AGENT)"),
    ...AGENT_KINDS.map((k) => h("option", { value: k }, k)),
  );
  kind.value = spec.agent.kind ?? "";
  const model = text(spec.agent.model, {
    placeholder: "AGENT_MODEL",
    "data-testid": "spec-agent-model",
  });
  const effort = h(
    "select",
    { "data-testid": "spec-agent-effort" },
    ...EFFORTS.map((e) => h("option", { value: e }, e || "default")),
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

  // Repositories: one row each, a radio marks the primary (the first one when none is marked).
  const repoRows = h("ul.rows", { "data-testid": "spec-repositories" });
  const addRepo = (name: string, primary: boolean) => {
    const radio = h("input", {
      type: "radio",
      name: "primary-repository",
      checked: primary,
      title: "primary",
    });
    const row = h(
      "li",
      { "data-testid": "spec-repository", "data-name": name },
      h("code", {}, name),
      h("label", {}, radio, " primary"),
      h("button", { type: "button", onclick: () => row.remove() }, "Remove"),
    );
    repoRows.append(row);
  };
  for (const r of spec.repositories) addRepo(r.name, Boolean(r.primary));
  const repoPicker = h(
    "select",
    { "data-testid": "spec-repository-pick" },
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

  const setupScript = h("textarea.code", {
    rows: "8",
    spellcheck: "false",
    placeholder: "runs once with bash -lc in the workspace, after the repositories are cloned",
    "data-testid": "spec-setup-script",
  });
  setupScript.value = spec.setupScript;

  // Env: name/value rows; values are textareas so multi-line values survive a round trip.
  const envRows = h("ul.rows", { "data-testid": "spec-env" });
  const addEnv = (name = "", value = "") => {
    const valueInput = h("textarea", {
      rows: "1",
      placeholder: "value",
      "data-testid": "spec-env-value",
    });
    valueInput.value = value;
    const row = h(
      "li.env",
      {},
      text(name, { placeholder: "NAME", "data-testid": "spec-env-name" }),
      valueInput,
      h("button", { type: "button", onclick: () => row.remove() }, "Remove"),
    );
    envRows.append(row);
  };
  for (const [k, v] of Object.entries(spec.env)) addEnv(k, v);

  const cpus = num(spec.limits?.cpus, { step: "0.5", "data-testid": "spec-cpus" });
  const memory = num(spec.limits?.memoryBytes && spec.limits.memoryBytes / MIB, {
    step: "1",
    "data-testid": "spec-memory",
  });
  const pids = num(spec.limits?.pids, { step: "1", "data-testid": "spec-pids" });
  const disk = num(spec.limits?.diskBytes && spec.limits.diskBytes / GIB, {
    step: "1",
    "data-testid": "spec-disk",
  });
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
  const idle = num(spec.idleMinutes, {
    step: "1",
    placeholder: "SANDBOX_IDLE_MINUTES",
    "data-testid": "spec-idle",
  });
  const persistent = h("input", {
    type: "checkbox",
    checked: Boolean(spec.persistent?.enabled),
    "data-testid": "spec-persistent",
  });
  const paths = h("textarea", {
    rows: "2",
    placeholder: "one absolute path per line (default: the workspace and the agent's home)",
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

  const element = h(
    "fieldset.spec",
    { disabled: opts.readOnly, "data-testid": "spec-form" },
    field("Image", image),
    h(
      "div.grid3",
      {},
      field("Agent", kind),
      field("Model", model),
      field("Reasoning effort", effort),
    ),
    commandField,
    field("Repositories", h("div", {}, repoRows, opts.readOnly ? null : repoPicker)),
    field("Setup script", setupScript),
    field(
      "Environment",
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
    h(
      "div.grid4",
      {},
      field("CPUs", cpus),
      field("Memory (MiB)", memory),
      field("Processes", pids),
      field("Disk (GiB)", disk),
    ),
    h(
      "div.grid3",
      {},
      field(
        "Network egress",
        egress,
        spec.hostNetwork
          ? "this version uses the host's network (hostNetwork): no policy applies"
          : "where the sandbox may connect",
      ),
      field("Idle minutes", idle, "a quiet session keeps its sandbox this long"),
    ),
    allowField,
    field(
      "Persistent sandbox",
      h(
        "div",
        {},
        h(
          "label",
          {},
          persistent,
          " keep these paths in volumes across restarts (the org must allow it)",
        ),
        paths,
      ),
    ),
    field(
      "Start sessions from",
      h("div.checks", {}, ...integrations.map((c) => h("label", {}, c, ` ${c.value}`))),
      "besides the API and the workbench",
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
