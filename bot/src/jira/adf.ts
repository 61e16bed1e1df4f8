import { Lexer, type MarkedToken, type Token, type Tokens } from "marked";

/**
 * Markdown (what Tandem and the agent write) to Atlassian Document Format, the body Jira Cloud's
 * REST v3 wants, and back to plain text. Follows Atlassian's JSON schema
 * (@atlaskit/adf-schema, v1 full.json): whatever has no ADF form degrades to plain text.
 */

interface AdfMark {
  type: string;
  attrs?: Record<string, unknown>;
}
export interface AdfNode {
  type: string;
  attrs?: Record<string, unknown>;
  content?: AdfNode[];
  marks?: AdfMark[];
  text?: string;
}
export interface AdfDoc {
  type: "doc";
  version: 1;
  content: AdfNode[];
}

const LINK_SCHEMES = new Set(["http:", "https:", "mailto:"]);
/** Marks sorted the way the ADF editor ranks them, so equal runs compare equal. */
const MARK_ORDER = ["link", "em", "strong", "strike", "code"];
const MENTION = /\[~accountid:([^\]\s]+)\]/g;

export function markdownToAdf(
  markdown: string,
  opts: { mentionable?: readonly string[] } = {},
): AdfDoc {
  const source = typeof markdown === "string" ? markdown : "";
  const mentionable = new Set(opts.mentionable ?? []);
  try {
    // `breaks`: a single newline is a line break, as GitHub and Slack show comments.
    const tokens = new Lexer({ gfm: true, breaks: true }).lex(source);
    return { type: "doc", version: 1, content: new Converter(mentionable).blocks(tokens, false) };
  } catch {
    // A lexer (or nesting) limit on hostile input: the words still arrive, without formatting.
    return { type: "doc", version: 1, content: plainParagraphs(source) };
  }
}

class Converter {
  constructor(private readonly mentionable: ReadonlySet<string>) {}

  /** Block nodes; `nested` inside a list item or blockquote, where ADF allows only paragraphs, lists and code. */
  blocks(tokens: readonly Token[], nested: boolean): AdfNode[] {
    return tokens.flatMap((token) => this.block(token as MarkedToken, nested));
  }

  private block(token: MarkedToken, nested: boolean): AdfNode[] {
    switch (token.type) {
      case "space":
      case "def":
      case "checkbox":
        return [];
      case "heading": {
        const content = this.inline(token.tokens);
        if (!nested) return visible(content) ? [heading(token.depth, content)] : [];
        return this.paragraph(content.map(bold));
      }
      case "paragraph":
      case "text":
        return this.paragraph(token.tokens ? this.inline(token.tokens) : text(decode(token.text)));
      case "code":
        return [codeBlock(token.text, token.lang)];
      case "hr":
        return nested ? [] : [{ type: "rule" }];
      case "blockquote": {
        // ADF has no blockquote inside a blockquote or a list item: the quote's blocks stand in place.
        const content = this.blocks(token.tokens, true);
        if (nested) return content;
        return content.length > 0 ? [{ type: "blockquote", content }] : [];
      }
      case "list":
        return [this.list(token)];
      case "table":
        return nested ? this.tableAsParagraphs(token) : [this.table(token)];
      case "html":
        return this.paragraph(html(token.text.replace(/\s+/g, " ")));
      default:
        return this.paragraph(this.inline([token]));
    }
  }

  private list(token: Tokens.List): AdfNode {
    const content = token.items.map((item) => this.listItem(item));
    if (!token.ordered) return { type: "bulletList", content };
    const order = typeof token.start === "number" && token.start !== 1 ? token.start : undefined;
    return { type: "orderedList", ...(order === undefined ? {} : { attrs: { order } }), content };
  }

  /** Jira comments have no task list: a task is a bullet whose text starts with a box. */
  private listItem(item: Tokens.ListItem): AdfNode {
    const children = this.blocks(item.tokens, true);
    const first = children[0]?.type === "paragraph" ? children.shift()! : emptyParagraph();
    if (item.task) {
      const box = item.checked ? "☑ " : "☐ ";
      first.content = tidy([...text(box), ...(first.content ?? [])]);
    }
    return { type: "listItem", content: [first, ...children] };
  }

  private table(token: Tokens.Table): AdfNode {
    const row = (cells: Tokens.TableCell[], type: string): AdfNode => ({
      type: "tableRow",
      content: cells.map((cell) => ({ type, content: [this.cellParagraph(cell)] })),
    });
    return {
      type: "table",
      content: [row(token.header, "tableHeader"), ...token.rows.map((r) => row(r, "tableCell"))],
    };
  }

  /** A table where ADF allows none (a list item, a quote): one line per row, cells split by " | ". */
  private tableAsParagraphs(token: Tokens.Table): AdfNode[] {
    return [token.header, ...token.rows].flatMap((cells) =>
      this.paragraph(
        cells.flatMap((cell, i) => [...(i > 0 ? text(" | ") : []), ...this.inline(cell.tokens)]),
      ),
    );
  }

  private cellParagraph(cell: Tokens.TableCell): AdfNode {
    return this.paragraph(this.inline(cell.tokens))[0] ?? emptyParagraph();
  }

  /** A paragraph, or nothing when it would show nothing. */
  private paragraph(inlines: AdfNode[]): AdfNode[] {
    const content = tidy(inlines);
    return visible(content) ? [{ type: "paragraph", content }] : [];
  }

  /** Inline nodes; mentions are found once the text runs are merged, so escapes cannot split them. */
  inline(tokens: readonly Token[], marks: AdfMark[] = []): AdfNode[] {
    const nodes = tokens.flatMap((token) => this.inlineToken(token as MarkedToken, marks));
    return mergeText(nodes).flatMap((node) => this.mentions(node));
  }

  private inlineToken(token: MarkedToken, marks: AdfMark[]): AdfNode[] {
    switch (token.type) {
      case "text":
        return token.tokens ? this.inline(token.tokens, marks) : text(decode(token.text), marks);
      case "escape":
        return text(token.text, marks);
      case "strong":
      case "em":
      case "del":
        return this.inline(token.tokens, withMark(marks, { type: MARK_FOR[token.type] }));
      case "codespan": {
        // ADF allows code only beside link: bold or struck code is plain code.
        const link = marks.filter((m) => m.type === "link");
        return text(token.text, [...link, { type: "code" }]);
      }
      case "br":
        return [{ type: "hardBreak" }];
      case "link":
        return this.link(token, marks);
      case "image": {
        const label = decode(token.text) || token.href;
        const href = safeHref(decode(token.href));
        const linked = href && !marks.some((m) => m.type === "link");
        return text(label, linked ? withMark(marks, linkMark(href)) : marks);
      }
      case "html":
        return html(token.text, marks);
      case "checkbox":
        return [];
      default: {
        const other = token as Tokens.Generic;
        if (Array.isArray(other.tokens)) return this.inline(other.tokens, marks);
        return text(String(other.text ?? other.raw ?? ""), marks);
      }
    }
  }

  private link(token: Tokens.Link, marks: AdfMark[]): AdfNode[] {
    // Autolinks and bare URLs are literal: no entities resolved in them.
    const href = safeHref(token.autolink ? token.href : decode(token.href));
    if (token.autolink) return text(token.text, href ? withMark(marks, linkMark(href)) : marks);
    if (!href) return this.inline(token.tokens, marks);
    const linked = withMark(marks, linkMark(href));
    const content = this.inline(token.tokens, linked);
    return visible(content) ? content : text(href, linked);
  }

  /** `[~accountid:…]` in a text run: a mention node when the id may be mentioned, else as written. */
  private mentions(node: AdfNode): AdfNode[] {
    if (node.type !== "text" || !node.text || node.marks?.some((m) => m.type === "code"))
      return [node];
    const out: AdfNode[] = [];
    let rest = 0;
    for (const match of node.text.matchAll(MENTION)) {
      const id = match[1]!;
      if (!this.mentionable.has(id)) continue;
      out.push(...text(node.text.slice(rest, match.index), node.marks));
      out.push({ type: "mention", attrs: { id } });
      rest = match.index + match[0].length;
    }
    if (rest === 0) return [node];
    return [...out, ...text(node.text.slice(rest), node.marks)];
  }
}

const MARK_FOR = { strong: "strong", em: "em", del: "strike" } as const;

function heading(depth: number, content: AdfNode[]): AdfNode {
  const level = Math.min(6, Math.max(1, Math.trunc(depth) || 1));
  return { type: "heading", attrs: { level }, content: tidy(content) };
}

/** One unmarked text node; an empty code block has no content at all. */
function codeBlock(code: string, lang: string | undefined): AdfNode {
  const language = lang?.trim().split(/\s+/)[0];
  return {
    type: "codeBlock",
    ...(language ? { attrs: { language } } : {}),
    ...(code ? { content: [{ type: "text", text: code }] } : {}),
  };
}

function emptyParagraph(): AdfNode {
  return { type: "paragraph", content: [] };
}

/** Text nodes for `value`, its newlines as hard breaks; none for "" (ADF has no empty text). */
function text(value: string, marks: AdfMark[] = []): AdfNode[] {
  return value
    .split("\n")
    .flatMap((line, i) => [
      ...(i > 0 ? [{ type: "hardBreak" }] : []),
      ...(line ? [{ type: "text", text: line, ...(marks.length ? { marks } : {}) }] : []),
    ]);
}

/** HTML shows its words, not its tags: `<br>` breaks the line, comments and other tags vanish. */
function html(source: string, marks: AdfMark[] = []): AdfNode[] {
  const withoutComments = source.replace(/<!--[\s\S]*?(?:-->|$)/g, "");
  return withoutComments
    .split(/(<[^>]*>)/)
    .flatMap((part) =>
      part.startsWith("<") && part.endsWith(">")
        ? /^<br\b/i.test(part)
          ? [{ type: "hardBreak" }]
          : []
        : text(decode(part).replace(/\n/g, " "), marks),
    );
}

function withMark(marks: AdfMark[], mark: AdfMark): AdfMark[] {
  const others = marks.filter((m) => m.type !== mark.type);
  const rank = (m: AdfMark) => MARK_ORDER.indexOf(m.type);
  return [...others, mark].sort((a, b) => rank(a) - rank(b));
}

function linkMark(href: string): AdfMark {
  return { type: "link", attrs: { href } };
}

function bold(node: AdfNode): AdfNode {
  if (node.type !== "text" || node.marks?.some((m) => m.type === "code")) return node;
  return { ...node, marks: withMark(node.marks ?? [], { type: "strong" }) };
}

/** The href when it is http(s) or mailto; javascript:, data:, relative paths and junk are not links. */
function safeHref(href: string): string | undefined {
  try {
    const trimmed = href.trim();
    return LINK_SCHEMES.has(new URL(trimmed).protocol) ? trimmed : undefined;
  } catch {
    return undefined;
  }
}

/** Adjacent text runs with the same marks as one node. */
function mergeText(nodes: AdfNode[]): AdfNode[] {
  const out: AdfNode[] = [];
  for (const node of nodes) {
    const last = out.at(-1);
    if (node.type === "text" && last?.type === "text" && sameMarks(last, node))
      out[out.length - 1] = { ...last, text: `${last.text}${node.text}` };
    else out.push(node);
  }
  return out;
}

function sameMarks(a: AdfNode, b: AdfNode): boolean {
  return JSON.stringify(a.marks ?? []) === JSON.stringify(b.marks ?? []);
}

/** Merged runs without the blank edges left by dropped tags and line breaks. */
function tidy(nodes: AdfNode[]): AdfNode[] {
  const out = mergeText(nodes);
  while (out[0]?.type === "hardBreak") out.shift();
  while (out.at(-1)?.type === "hardBreak") out.pop();
  const trim = (i: number, edge: (s: string) => string) => {
    const node = out[i];
    if (node?.type !== "text" || node.marks?.some((m) => m.type === "code")) return;
    const trimmed = edge(node.text ?? "");
    if (trimmed) out[i] = { ...node, text: trimmed };
    else out.splice(i, 1);
  };
  trim(0, (s) => s.trimStart());
  trim(out.length - 1, (s) => s.trimEnd());
  return out;
}

function visible(nodes: AdfNode[]): boolean {
  return nodes.some((n) => n.type !== "hardBreak" && (n.type !== "text" || n.text?.trim()));
}

function plainParagraphs(source: string): AdfNode[] {
  return source
    .split(/\n\s*\n/)
    .flatMap((block) => (block.trim() ? [{ type: "paragraph", content: tidy(text(block)) }] : []));
}

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: "\u00a0",
  copy: "©",
  reg: "®",
  trade: "™",
  hellip: "…",
  mdash: "—",
  ndash: "–",
  middot: "·",
  bull: "•",
  times: "×",
  rarr: "→",
  larr: "←",
  lsquo: "‘",
  rsquo: "’",
  ldquo: "“",
  rdquo: "”",
};

/** Character references: numeric ones and the common named ones; others stay as written. */
function decode(value: string): string {
  return value.replace(
    /&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]*);/g,
    (ref, name) => {
      if (!name.startsWith("#")) return ENTITIES[name] ?? ref;
      const code = /^#x/i.test(name) ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
      return String.fromCodePoint(valid ? code : 0xfffd);
    },
  );
}

const INLINE_PARENTS = new Set(["paragraph", "heading", "codeBlock", "taskItem", "decisionItem"]);

/**
 * The words of an ADF doc or node: blocks and list items on their own lines, a mention as @name
 * (its id when it has no name), a link's URL after its text when the text is not the URL itself.
 */
export function adfToText(node: unknown): string {
  return textOf(node, 0);
}

function textOf(node: unknown, depth: number): string {
  if (!isNode(node) || depth > 100) return "";
  const attrs = isRecord(node.attrs) ? node.attrs : {};
  const str = (value: unknown) => (typeof value === "string" ? value : "");
  switch (node.type) {
    case "text":
      return str(node.text);
    case "hardBreak":
      return "\n";
    case "mention":
      return `@${str(attrs.text).replace(/^@/, "") || str(attrs.id)}`;
    case "inlineCard":
    case "blockCard":
    case "embedCard":
      return str(attrs.url);
    case "emoji":
      return str(attrs.text) || str(attrs.shortName);
    case "status":
      return str(attrs.text);
  }
  const children = Array.isArray(node.content) ? node.content : [];
  if (INLINE_PARENTS.has(node.type)) return inlineText(children, depth + 1);
  const parts = children.map((child) => textOf(child, depth + 1)).filter(Boolean);
  return parts.join(node.type === "tableRow" ? " | " : "\n");
}

/** Inline runs joined, each run of one link followed by its URL unless the run already shows it. */
function inlineText(children: unknown[], depth: number): string {
  let out = "";
  let run = { href: "", text: "" };
  const endRun = () => {
    if (run.href && !run.text.includes(run.href)) out += ` (${run.href})`;
    run = { href: "", text: "" };
  };
  for (const child of children) {
    const href = linkOf(child);
    if (href !== run.href) endRun();
    const words = textOf(child, depth);
    run = { href, text: run.text + words };
    out += words;
  }
  endRun();
  return out;
}

function linkOf(node: unknown): string {
  if (!isNode(node) || !Array.isArray(node.marks)) return "";
  const link = node.marks.find((m) => isRecord(m) && m.type === "link");
  const attrs = isRecord(link) && isRecord(link.attrs) ? link.attrs : {};
  return typeof attrs.href === "string" ? attrs.href : "";
}

/** The account ids of every mention node in the doc, first mention first, each once. */
export function adfMentions(node: unknown): string[] {
  const ids = new Set<string>();
  const visit = (n: unknown, depth: number) => {
    if (!isNode(n) || depth > 100) return;
    if (n.type === "mention" && isRecord(n.attrs) && typeof n.attrs.id === "string")
      ids.add(n.attrs.id);
    if (Array.isArray(n.content)) for (const child of n.content) visit(child, depth + 1);
  };
  visit(node, 0);
  return [...ids];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNode(value: unknown): value is Record<string, unknown> & { type: string } {
  return isRecord(value) && typeof value.type === "string";
}
