import { h } from "./api.ts";

const SOURCES: Record<string, string> = {
  slack: "Slack",
  github: "GitHub",
  linear: "Linear",
  jira: "Jira",
  discord: "Discord",
};

/** The sources a session can come from, for a filter: the workbench and API, then each provider. */
export const SOURCE_OPTIONS: Array<[string, string]> = [
  ["api", "Workbench"],
  ...Object.entries(SOURCES),
];

/** Where a session came from, as people call it; sessions started here or by the API say Workbench. */
export const sourceLabel = (source: string) => SOURCES[source] ?? "Workbench";

/** The words of the link back to where a session came from: "open ENG-12 in Linear", "open in Slack". */
export function originText(origin: { provider: string; url: string }): string {
  // A Linear or Jira issue's URL names it (…/issue/ENG-12/…, …/browse/ENG-12); people know issues by that.
  const issue =
    origin.provider === "linear" || origin.provider === "jira"
      ? /\/(?:issue|browse)\/([A-Za-z0-9]+-\d+)/.exec(origin.url)?.[1]?.toUpperCase()
      : undefined;
  return `open ${issue ? `${issue} ` : ""}in ${SOURCES[origin.provider] ?? origin.provider}`;
}

export const originLink = (origin: { provider: string; url: string }): HTMLElement =>
  h(
    "a",
    { href: origin.url, target: "_blank", rel: "noopener", "data-testid": "session-origin" },
    originText(origin),
  );
