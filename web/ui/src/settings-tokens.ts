import { api, h } from "./api.ts";

interface TokenView {
  id: string;
  name: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

const DAY = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const when = (iso: string | null, none: string) => (iso ? DAY.format(new Date(iso)) : none);

/**
 * The caller's API tokens: each with its name, when it was made, when it stops working and when
 * it was last used, and Revoke; a form makes a new one and shows it once.
 */
export function tokensSection(): { element: HTMLElement; load: () => Promise<void> } {
  const list = h("ul.tokens", { "data-testid": "api-tokens-list" });
  const error = h("p.error", { "aria-live": "polite", "data-testid": "token-error" });
  const shown = h("div.new-token", { hidden: true, "data-testid": "new-token" });
  const name = h("input", { name: "name", required: true, maxlength: "100", placeholder: "ci" });
  const expiry = h(
    "select",
    { name: "expiresInDays" },
    h("option", { value: "30" }, "30 days"),
    h("option", { value: "90" }, "90 days"),
    h("option", { value: "365" }, "1 year"),
    h("option", { value: "" }, "Never"),
  );
  const load = async () => {
    const { tokens } = await api<{ tokens: TokenView[] }>("GET", "/api/tokens");
    list.replaceChildren(
      ...(tokens.length
        ? tokens.map((t) => {
            const expired = t.expiresAt !== null && Date.parse(t.expiresAt) <= Date.now();
            return h(
              "li",
              { "data-testid": "api-token", "data-id": t.id },
              h(
                "div",
                {},
                h("strong", {}, t.name),
                expired ? h("span.badge", { "data-tone": "warning" }, " expired") : null,
                h(
                  "div.muted.small",
                  {},
                  `made ${when(t.createdAt, "")} · ${t.expiresAt ? `${expired ? "expired" : "expires"} ${when(t.expiresAt, "")}` : "never expires"} · ${t.lastUsedAt ? `last used ${when(t.lastUsedAt, "")}` : "never used"}`,
                ),
              ),
              h(
                "button.danger",
                {
                  type: "button",
                  "data-testid": "revoke-token",
                  "aria-label": `Revoke ${t.name}`,
                  onclick: async () => {
                    if (!confirm(`Revoke the token "${t.name}"? Whatever uses it stops working.`))
                      return;
                    error.textContent = "";
                    try {
                      await api("DELETE", `/api/tokens/${t.id}`);
                      await load();
                    } catch (err) {
                      error.textContent = (err as Error).message;
                    }
                  },
                },
                "Revoke",
              ),
            );
          })
        : [h("li.muted", { "data-testid": "no-tokens" }, "No API tokens yet.")]),
    );
  };
  const form = h(
    "form.token-form",
    {
      "data-testid": "create-token",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        error.textContent = "";
        try {
          const made = await api<{ token: string; name: string }>("POST", "/api/tokens", {
            name: name.value.trim(),
            ...(expiry.value ? { expiresInDays: Number(expiry.value) } : {}),
          });
          shown.hidden = false;
          shown.replaceChildren(
            h("p", {}, `Copy "${made.name}" now: it is not shown again.`),
            h("code.token", { "data-testid": "new-token-value" }, made.token),
          );
          name.value = "";
          await load();
        } catch (err) {
          error.textContent = (err as Error).message;
        }
      },
    },
    h("label.field", {}, h("span", {}, "Name"), name),
    h("label.field", {}, h("span", {}, "Expires after"), expiry),
    h("button.primary", { type: "submit" }, "Create token"),
  );
  const element = h(
    "div",
    {},
    h(
      "p.muted",
      {},
      "Your tokens act as you from scripts and CI (",
      h("code", {}, "Authorization: Bearer …"),
      "); only their hash is kept.",
    ),
    list,
    form,
    shown,
    error,
  );
  return { element, load };
}
