import { api, h } from "./api.ts";
import { bytes } from "./profile-form.ts";

interface OrgSettings {
  concurrencyLimit: number;
  allowPersistentSandboxes: boolean;
  monthlyTokenBudget: number | null;
  sessionTokenBudget: number | null;
  sandboxDefaults: {
    cpus: number | null;
    memoryBytes: number | null;
    pids: number | null;
    diskBytes: number | null;
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "2 CPUs, 4 GiB memory, 1024 processes, no disk cap". */
const sandboxLimitsText = (l: OrgSettings["sandboxDefaults"]) =>
  [
    l.cpus === null ? "no CPU cap" : plural(l.cpus, "CPU"),
    l.memoryBytes === null ? "no memory cap" : `${bytes(l.memoryBytes)} memory`,
    l.pids === null ? "no process cap" : plural(l.pids, "process", "processes"),
    l.diskBytes === null ? "no disk cap" : `${bytes(l.diskBytes)} disk`,
  ].join(", ");

const tokens = (n: number | null) =>
  n === null ? "unlimited" : `${n.toLocaleString("en")} tokens`;

/**
 * Settings → Organization limits: sessions running at once, model token budgets, whether
 * persistent sandboxes are allowed, and the instance's per-sandbox limits (a profile may set its
 * own). Admins change the org's; the instance's come from its configuration.
 */
export function limitsSection(orgId: () => string) {
  const url = () => `/api/orgs/${orgId()}/settings`;
  const error = h("p.error", { "data-testid": "org-settings-error" });
  const values = h("dl.limits", { "data-testid": "org-limits" });
  const persistent = h("input", {
    type: "checkbox",
    "data-testid": "allow-persistent",
    onchange: () => void savePersistent(),
  });
  const concurrency = h("input", {
    name: "concurrencyLimit",
    type: "number",
    min: "1",
    max: "1000",
    step: "1",
    required: true,
  });
  const monthly = h("input", {
    name: "monthlyTokenBudget",
    type: "number",
    min: "0",
    step: "1",
    placeholder: "unlimited",
  });
  const perSession = h("input", {
    name: "sessionTokenBudget",
    type: "number",
    min: "0",
    step: "1",
    placeholder: "unlimited",
  });
  const field = (label: string, input: HTMLElement, hint: string) =>
    h("label.field", {}, h("span", {}, label), input, h("small.hint", {}, hint));
  const budget = (input: HTMLInputElement) =>
    input.value.trim() === "" ? null : Math.round(Number(input.value));

  const show = (s: OrgSettings) => {
    const row = (term: string, detail: string) => [h("dt", {}, term), h("dd", {}, detail)];
    values.replaceChildren(
      ...row("Sessions running at once", `${s.concurrencyLimit} sessions at once`),
      ...row("Model tokens per month", tokens(s.monthlyTokenBudget)),
      ...row("Model tokens per session", tokens(s.sessionTokenBudget)),
      ...row("Each sandbox, unless its profile says", sandboxLimitsText(s.sandboxDefaults)),
    );
    persistent.checked = s.allowPersistentSandboxes;
    concurrency.value = String(s.concurrencyLimit);
    monthly.value = s.monthlyTokenBudget === null ? "" : String(s.monthlyTokenBudget);
    perSession.value = s.sessionTokenBudget === null ? "" : String(s.sessionTokenBudget);
  };
  const load = async () => {
    error.textContent = "";
    persistent.disabled = true;
    try {
      show(await api<OrgSettings>("GET", url()));
      persistent.disabled = false;
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  };
  const patch = (body: Record<string, unknown>) =>
    api<Omit<OrgSettings, "sandboxDefaults">>("PATCH", url(), body);
  const savePersistent = async () => {
    error.textContent = "";
    persistent.disabled = true;
    try {
      persistent.checked = (
        await patch({ allowPersistentSandboxes: persistent.checked })
      ).allowPersistentSandboxes;
    } catch (err) {
      persistent.checked = !persistent.checked;
      error.textContent = (err as Error).message;
    } finally {
      persistent.disabled = false;
    }
  };
  const save = h("button", { type: "submit", "data-testid": "save-limits" }, "Save limits");
  const form = h(
    "form.limits-form",
    {
      "data-testid": "limits-form",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        error.textContent = "";
        save.disabled = true;
        try {
          await patch({
            concurrencyLimit: Number(concurrency.value),
            monthlyTokenBudget: budget(monthly),
            sessionTokenBudget: budget(perSession),
          });
          await load();
        } catch (err) {
          error.textContent = (err as Error).message;
        } finally {
          save.disabled = false;
        }
      },
    },
    h(
      "div.grid-fields",
      {},
      field("Sessions at once", concurrency, "more wait in the queue"),
      field("Tokens per month", monthly, "input + output, calendar month in UTC; empty: unlimited"),
      field("Tokens per session", perSession, "empty: unlimited"),
    ),
    h("div.actions", {}, save),
  );

  const element = h(
    "section.card.settings-section",
    {
      id: "org-limits-section",
      "aria-labelledby": "org-limits-title",
      "data-testid": "org-limits-section",
    },
    h("h2", { id: "org-limits-title" }, "Organization limits"),
    values,
    h("label.check-label.setting", {}, persistent, " Allow persistent sandboxes"),
    h(
      "p.muted",
      {},
      "Sessions on a profile version that opts in keep their workspace and agent home in volumes: a sandbox stopped or removed comes back with its files and the agent's conversation. The volumes are removed when the session is deleted.",
    ),
    h("details.change-limits", {}, h("summary", {}, "Change limits"), form),
    error,
  );
  return { element, load };
}
