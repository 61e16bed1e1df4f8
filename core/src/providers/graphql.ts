import { isRecord, parseJson } from "./integration.ts";

/** A mutation whose `input.body` gets the link; `create`: a missing body becomes the link alone. */
export interface MutationRule {
  field: string;
  create?: boolean;
}

/** How the link goes into a body that does not carry it yet. */
export type AddLink = (body: string | null | undefined) => string | undefined;

/**
 * Adds the link to the `body` of the listed mutations' input in a GraphQL request (one
 * operation or a batch): in the variables (`input: $input` or `body: $body`) and in inline
 * string arguments (`body: "..."`). Block strings and anything it cannot read are left alone.
 */
export function rewriteGraphqlBody(
  raw: Buffer,
  rules: readonly MutationRule[],
  addLink: AddLink,
): Buffer | undefined {
  const parsed = parseJson(raw);
  const ops = Array.isArray(parsed) ? parsed : [parsed];
  let changed = false;
  for (const op of ops) {
    if (!isRecord(op) || typeof op.query !== "string" || !/\bmutation\b/.test(op.query)) continue;
    const variables = isRecord(op.variables) ? op.variables : {};
    const query = rewriteQuery(op.query, variables, rules, addLink);
    if (query.changed) {
      op.query = query.text;
      op.variables = variables;
      changed = true;
    }
  }
  return changed ? Buffer.from(JSON.stringify(parsed)) : undefined;
}

interface Field {
  key: string;
  start: number;
  end: number;
}

function rewriteQuery(
  query: string,
  variables: Record<string, unknown>,
  rules: readonly MutationRule[],
  addLink: AddLink,
) {
  const edits: Array<{ start: number; end: number; text: string }> = [];
  let changed = false;
  for (const rule of rules) {
    for (const m of query.matchAll(new RegExp(`\\b${rule.field}\\s*\\(`, "g"))) {
      const open = m.index + m[0].length - 1;
      const close = closing(query, open);
      if (close < 0) continue;
      const input = fields(query, open + 1, close).find((f) => f.key === "input");
      if (!input) continue;
      const value = query.slice(input.start, input.end);
      if (value.startsWith("$")) {
        const obj = variables[value.slice(1)];
        if (isRecord(obj)) changed = linkVariable(obj, "body", rule.create, addLink) || changed;
        continue;
      }
      if (!value.startsWith("{")) continue;
      const body = fields(query, input.start + 1, input.end - 1).find((f) => f.key === "body");
      const bodyValue = body && query.slice(body.start, body.end);
      if (!body || !bodyValue) continue;
      if (bodyValue.startsWith("$")) {
        changed = linkVariable(variables, bodyValue.slice(1), rule.create, addLink) || changed;
      } else if (bodyValue.startsWith('"') && !bodyValue.startsWith('"""')) {
        const text = stringLiteral(bodyValue);
        const linked = text === undefined ? undefined : addLink(text);
        if (linked !== undefined)
          edits.push({ start: body.start, end: body.end, text: JSON.stringify(linked) });
      }
    }
  }
  let text = query;
  for (const e of edits.sort((a, b) => b.start - a.start))
    text = `${text.slice(0, e.start)}${e.text}${text.slice(e.end)}`;
  return { text, changed: changed || edits.length > 0 };
}

function linkVariable(
  obj: Record<string, unknown>,
  key: string,
  create: boolean | undefined,
  addLink: AddLink,
): boolean {
  const value = obj[key];
  if (typeof value !== "string" && !(create && value == null)) return false;
  const linked = addLink(value as string | null | undefined);
  if (linked === undefined) return false;
  obj[key] = linked;
  return true;
}

/** A GraphQL string literal's value (its escapes are JSON's); undefined when unreadable. */
function stringLiteral(literal: string): string | undefined {
  try {
    const value: unknown = JSON.parse(literal);
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The index just past the string starting at `i`. */
function skipString(src: string, i: number): number {
  if (src.startsWith('"""', i)) {
    for (let j = i + 3; j < src.length; j++) {
      if (src[j] === "\\" && src.startsWith('"""', j + 1)) j += 3;
      else if (src.startsWith('"""', j)) return j + 3;
    }
    return src.length;
  }
  for (let j = i + 1; j < src.length; j++) {
    if (src[j] === "\\") j++;
    else if (src[j] === '"' || src[j] === "\n") return j + 1;
  }
  return src.length;
}

const OPENERS: Record<string, string> = { "(": ")", "{": "}", "[": "]" };

/** The index of the bracket closing the one at `open`, past strings and comments; -1 if none. */
function closing(src: string, open: number): number {
  const stack: string[] = [];
  for (let j = open; j < src.length; j++) {
    const c = src[j]!;
    if (c === '"') j = skipString(src, j) - 1;
    else if (c === "#") j = src.indexOf("\n", j) < 0 ? src.length : src.indexOf("\n", j);
    else if (OPENERS[c]) stack.push(OPENERS[c]!);
    else if (c === stack.at(-1)) {
      stack.pop();
      if (!stack.length) return j;
    }
  }
  return -1;
}

/** The `key: value` pairs directly between `from` and `to` (arguments or an object's fields). */
function fields(src: string, from: number, to: number): Field[] {
  const out: Field[] = [];
  const name = /[_A-Za-z]\w*/y;
  const blank = /(?:[\s,]|#[^\n]*)*/y;
  let j = from;
  const skipBlank = () => {
    blank.lastIndex = j;
    blank.exec(src);
    j = blank.lastIndex;
  };
  while (j < to) {
    skipBlank();
    name.lastIndex = j;
    const key = name.exec(src)?.[0];
    if (!key) break;
    j = name.lastIndex;
    skipBlank();
    if (src[j] !== ":") break;
    j++;
    skipBlank();
    const start = j;
    const c = src[j] ?? "";
    if (c === '"') j = skipString(src, j);
    else if (OPENERS[c]) j = closing(src, j) + 1 || to;
    else while (j < to && !/[\s,)}\]]/.test(src[j]!)) j++;
    out.push({ key, start, end: Math.min(j, to) });
  }
  return out;
}
