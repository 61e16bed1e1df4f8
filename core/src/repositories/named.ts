/**
 * The repositories a person's text names, in order: GitHub URLs, `[repo=owner/name]`, and
 * `owner/name` words (Slack's `<url|label>` links and Jira's `[label|url]` read as their URL).
 */
export function namedRepositories(...texts: string[]): string[] {
  const found = new Set<string>();
  for (const text of texts) {
    for (const m of text.matchAll(/github\.com\/([\w.-]+\/[\w.-]+?)(?:\.git)?(?=[/|>\]#?\s]|$)/gi))
      found.add(m[1]!);
    for (const m of text.matchAll(/\[repo=([\w.-]+\/[\w.-]+?)(?:\.git)?\]/g)) found.add(m[1]!);
    const words = text.replace(/<[^>]*>|\[[^\]|]*\|[^\]]*\]|https?:\/\/\S+/g, " ");
    for (const m of words.matchAll(
      /(?:^|[\s`*_('"])([A-Za-z0-9][\w.-]*\/[\w.-]*[A-Za-z0-9_])(?=$|[\s`*_),.:;!?'"])/g,
    ))
      found.add(m[1]!.replace(/\.git$/, ""));
  }
  return [...found];
}
