/** `text` cut to `max` characters, the last one an ellipsis when it was longer. */
export const clip = (text: string, max: number) =>
  text.length > max ? `${text.slice(0, max - 1)}…` : text;
