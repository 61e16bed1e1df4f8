/** Quotes one argument for a POSIX shell command line. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
