/** `text` cut to `max` characters, the last one an ellipsis when it was longer. */
export const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;

/**
 * `profile:<name>` anywhere in a request picks the sandbox profile (the org's default otherwise);
 * the word is taken out of the request. The first one counts.
 */
export function takeProfile(text: string): { profile?: string; text: string } {
  const match = /(?:^|\s)profile:(\S+)/.exec(text);
  if (!match) return { text };
  return {
    profile: match[1]!,
    text: (text.slice(0, match.index) + text.slice(match.index + match[0].length))
      .replace(/\s{2,}/g, " ")
      .trim(),
  };
}
