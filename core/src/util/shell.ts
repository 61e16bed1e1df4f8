/** Quotes one argument for a POSIX shell command line. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Agents report `/bin/bash -lc 'echo hi'` (Codex does); people asked for `echo hi`. */
export function unwrapShell(command: string): string {
  const script = /^(?:\S*\/)?(?:bash|zsh|sh) -l?c (.+)$/s.exec(command)?.[1];
  return (script && oneShellWord(script)) || command;
}

/** `text` with its quoting removed when it is exactly one POSIX shell word; otherwise undefined. */
function oneShellWord(text: string): string | undefined {
  let word = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return undefined;
      word += text.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === "\\" && '"\\$`'.includes(text[i + 1] ?? "-")) i++;
        word += text[i];
      }
      if (i >= text.length) return undefined;
    } else if (c === "\\") {
      word += text[++i] ?? "";
    } else if (/\s/.test(c)) {
      return undefined;
    } else {
      word += c;
    }
  }
  return word;
}
