/**
 * "Viewed" marks, per session in localStorage: path → a hash of the file's diff when it was marked.
 * A file whose diff has changed since no longer matches, so it shows as not viewed again.
 */
const key = (sessionId: string) => `tandem.viewed.${sessionId}`;

function read(sessionId: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(key(sessionId)) ?? "{}");
    return value && typeof value === "object" ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** cyrb53: a fast 53-bit string hash; enough to tell one diff of a file from the next. */
function diffHash(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

export const isViewed = (sessionId: string, path: string, patch: string) =>
  read(sessionId)[path] === diffHash(patch);

export function setViewed(sessionId: string, path: string, patch: string, viewed: boolean) {
  const marks = read(sessionId);
  if (viewed) marks[path] = diffHash(patch);
  else delete marks[path];
  localStorage.setItem(key(sessionId), JSON.stringify(marks));
}
