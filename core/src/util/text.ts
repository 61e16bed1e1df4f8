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

/** An elapsed time as people read it: "42s", "3m 05s", "1h 02m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}
