import { describe, expect, it } from "vitest";
import {
  adfMentions,
  adfToText,
  markdownToAdf,
  type AdfDoc,
  type AdfNode,
} from "../bot/src/jira/adf.ts";
import { adfProblems } from "./fixtures/adf-schema.ts";

/** The doc for `markdown`, failing the test unless Atlassian's schema and our own rules accept it. */
function convert(markdown: string, opts?: { mentionable?: readonly string[] }): AdfDoc {
  const doc = markdownToAdf(markdown, opts);
  expect(adfProblems(doc), JSON.stringify(markdown.slice(0, 200))).toEqual([]);
  expect(houseRuleProblems(doc), JSON.stringify(markdown.slice(0, 200))).toEqual([]);
  return doc;
}

/** What the JSON schema cannot say: a list item opens with a paragraph; no task lists in comments. */
function houseRuleProblems(doc: AdfDoc): string[] {
  return nodes(doc).flatMap((node) => [
    ...(node.type === "listItem" && node.content?.[0]?.type !== "paragraph"
      ? ["listItem without a leading paragraph"]
      : []),
    ...(node.type === "taskList" || node.type === "taskItem" ? [node.type] : []),
  ]);
}

function nodes(node: AdfNode | AdfDoc): AdfNode[] {
  return [node as AdfNode, ...(node.content ?? []).flatMap(nodes)];
}

function texts(doc: AdfDoc): string[] {
  return nodes(doc).flatMap((n) => (n.type === "text" ? [n.text ?? ""] : []));
}

const t = (text: string, ...marks: AdfNode["marks"] & object) =>
  marks.length ? { type: "text", text, marks } : { type: "text", text };
const p = (...content: AdfNode[]) => ({ type: "paragraph", content });
const link = (href: string) => ({ type: "link", attrs: { href } });
const strong = { type: "strong" };
const em = { type: "em" };
const code = { type: "code" };
const item = (...content: AdfNode[]) => ({ type: "listItem", content });
const doc = (...content: AdfNode[]) => ({ type: "doc", version: 1, content });

describe("markdownToAdf: each construct", () => {
  it("headings keep their level, ATX and setext", () => {
    const levels = [1, 2, 3, 4, 5, 6].map((n) => `${"#".repeat(n)} Level ${n}`).join("\n\n");
    expect(convert(levels).content).toEqual(
      [1, 2, 3, 4, 5, 6].map((level) => ({
        type: "heading",
        attrs: { level },
        content: [t(`Level ${level}`)],
      })),
    );
    expect(convert("Title\n=====\n\nSub\n---").content).toEqual([
      { type: "heading", attrs: { level: 1 }, content: [t("Title")] },
      { type: "heading", attrs: { level: 2 }, content: [t("Sub")] },
    ]);
  });

  it("paragraphs carry strong, em, strike and code marks", () => {
    expect(convert("one **two** *three* ~~four~~ `five`\n\nsecond").content).toEqual([
      p(
        t("one "),
        t("two", strong),
        t(" "),
        t("three", em),
        t(" "),
        t("four", { type: "strike" }),
        t(" "),
        t("five", code),
      ),
      p(t("second")),
    ]);
  });

  it("code inside bold, em or strike is code alone; code inside a link keeps the link", () => {
    expect(convert("**bold `a` *and `b`***").content).toEqual([
      p(t("bold ", strong), t("a", code), t(" ", strong), t("and ", em, strong), t("b", code)),
    ]);
    expect(convert("~~`c`~~ [`d`](https://x.test/d)").content).toEqual([
      p(t("c", code), t(" "), t("d", link("https://x.test/d"), code)),
    ]);
  });

  it("links to http, https and mailto; any other href leaves the text plain", () => {
    expect(
      convert(
        "[a](http://a.test) [b](https://b.test/x?y=1&amp;z=2) [c](mailto:c@c.test) " +
          "[d](javascript:alert(1)) [e](/relative) [f](data:text/html,x) [**g**](https://g.test)",
      ).content,
    ).toEqual([
      p(
        t("a", link("http://a.test")),
        t(" "),
        t("b", link("https://b.test/x?y=1&z=2")),
        t(" "),
        t("c", link("mailto:c@c.test")),
        t(" d e f "),
        t("g", link("https://g.test"), strong),
      ),
    ]);
  });

  it("bare URLs, autolinks, www. and e-mail addresses become links", () => {
    expect(convert("see https://x.test/a <https://y.test> www.z.test me@m.test").content).toEqual([
      p(
        t("see "),
        t("https://x.test/a", link("https://x.test/a")),
        t(" "),
        t("https://y.test", link("https://y.test")),
        t(" "),
        t("www.z.test", link("http://www.z.test")),
        t(" "),
        t("me@m.test", link("mailto:me@m.test")),
      ),
    ]);
  });

  it("bullet and ordered lists nest; an ordered list not starting at 1 says where", () => {
    expect(convert("- a\n  - b\n    1. c\n- d").content).toEqual([
      {
        type: "bulletList",
        content: [
          item(p(t("a")), {
            type: "bulletList",
            content: [item(p(t("b")), { type: "orderedList", content: [item(p(t("c")))] })],
          }),
          item(p(t("d"))),
        ],
      },
    ]);
    expect(convert("3. three\n4. four").content).toEqual([
      {
        type: "orderedList",
        attrs: { order: 3 },
        content: [item(p(t("three"))), item(p(t("four")))],
      },
    ]);
  });

  it("task items are bullets that start with a box, never a taskList", () => {
    expect(convert("- [x] done `it`\n- [ ] todo").content).toEqual([
      {
        type: "bulletList",
        content: [item(p(t("☑ done "), t("it", code))), item(p(t("☐ todo")))],
      },
    ]);
    // Loose items put the checkbox inside a paragraph.
    expect(convert("- [x] one\n\n- [ ] **two**").content).toEqual([
      { type: "bulletList", content: [item(p(t("☑ one"))), item(p(t("☐ "), t("two", strong)))] },
    ]);
  });

  it("code blocks: fenced with a language, indented, empty; the text verbatim", () => {
    expect(convert("```ts title=x\nconst a = 1 &amp;&amp; **b**;\n<br>\n```").content).toEqual([
      {
        type: "codeBlock",
        attrs: { language: "ts" },
        content: [t("const a = 1 &amp;&amp; **b**;\n<br>")],
      },
    ]);
    expect(convert("    indented\n    code").content).toEqual([
      { type: "codeBlock", content: [t("indented\ncode")] },
    ]);
    expect(convert("```\n```").content).toEqual([{ type: "codeBlock" }]);
  });

  it("blockquotes hold paragraphs, lists and code; what ADF forbids in them is flattened", () => {
    expect(convert("> quoted *text*\n> - a\n>\n> ```\n> x\n> ```").content).toEqual([
      {
        type: "blockquote",
        content: [
          p(t("quoted "), t("text", em)),
          { type: "bulletList", content: [item(p(t("a")))] },
          { type: "codeBlock", content: [t("x")] },
        ],
      },
    ]);
    // A quote in a quote, a heading, a rule and a table have no ADF form inside a blockquote.
    expect(
      convert("> outer\n> > inner\n> # Head\n> ---\n> | a | b |\n> |---|---|\n> | 1 | 2 |").content,
    ).toEqual([
      {
        type: "blockquote",
        content: [p(t("outer")), p(t("inner")), p(t("Head", strong)), p(t("a | b")), p(t("1 | 2"))],
      },
    ]);
  });

  it("horizontal rules and hard line breaks", () => {
    expect(convert("above\n\n---\n\nbelow  \nnext\nthird").content).toEqual([
      p(t("above")),
      { type: "rule" },
      p(t("below"), { type: "hardBreak" }, t("next"), { type: "hardBreak" }, t("third")),
    ]);
  });

  it("GFM tables: a header row of tableHeader, then tableCell rows, each cell a paragraph", () => {
    const cell = (type: string, ...content: AdfNode[]) => ({ type, content: [p(...content)] });
    expect(convert("| Name | Change |\n|---|:-:|\n| `a.ts` | **+4** |\n| b | |").content).toEqual([
      {
        type: "table",
        content: [
          {
            type: "tableRow",
            content: [cell("tableHeader", t("Name")), cell("tableHeader", t("Change"))],
          },
          {
            type: "tableRow",
            content: [cell("tableCell", t("a.ts", code)), cell("tableCell", t("+4", strong))],
          },
          { type: "tableRow", content: [cell("tableCell", t("b")), cell("tableCell")] },
        ],
      },
    ]);
  });

  it("HTML shows its text without tags; <br> breaks the line; comments vanish", () => {
    expect(convert("<sub>small [s](https://s.test)</sub> a<br>b <!-- hidden -->").content).toEqual([
      p(t("small "), t("s", link("https://s.test")), t(" a"), { type: "hardBreak" }, t("b")),
    ]);
    expect(
      convert("<div>\n  block <b>html</b><br/>two\n</div>\n\n<!-- only a comment -->").content,
    ).toEqual([p(t("block html"), { type: "hardBreak" }, t("two"))]);
  });

  it("images become a link with their alt text, or their URL; unsafe ones plain text", () => {
    expect(
      convert("![diagram](https://i.test/d.png) ![](https://i.test/e.png) ![x](data:image/png,1)")
        .content,
    ).toEqual([
      p(
        t("diagram", link("https://i.test/d.png")),
        t(" "),
        t("https://i.test/e.png", link("https://i.test/e.png")),
        t(" x"),
      ),
    ]);
  });

  it("escapes and character references are decoded (not in code)", () => {
    expect(
      convert("a &amp; b \\*c\\* &copy; &#x1F600; &#65; \\<x> &unknown; `&amp;`").content,
    ).toEqual([p(t("a & b *c* © 😀 A <x> &unknown; "), t("&amp;", code))]);
  });

  it("an empty or blank input is an empty doc", () => {
    expect(convert("")).toEqual(doc());
    expect(convert("  \n\n\t\n")).toEqual(doc());
  });
});

describe("markdownToAdf: mentions", () => {
  const ME = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077";
  const markdown = `Hi [~accountid:${ME}] and [~accountid:stranger], **[~accountid:${ME}]** \`[~accountid:${ME}]\``;

  it("a mention of an allowed account id becomes a mention node, even in bold; not in code", () => {
    expect(convert(markdown, { mentionable: [ME] }).content).toEqual([
      p(
        t("Hi "),
        { type: "mention", attrs: { id: ME } },
        t(" and [~accountid:stranger], "),
        { type: "mention", attrs: { id: ME } },
        t(" "),
        t(`[~accountid:${ME}]`, code),
      ),
    ]);
  });

  it("without the allow-list every mention stays text", () => {
    const result = convert(markdown);
    expect(nodes(result).filter((n) => n.type === "mention")).toEqual([]);
    expect(texts(result).join("")).toContain(`Hi [~accountid:${ME}] and`);
  });
});

const TRACKING_COMMENT = `**Tandem** · ✅ Done · [View session](http://localhost:3000/sessions/3f2a)

- [x] ran \`npm test\`
- [x] edited \`src/greet.ts\`

I changed the greeting to say hello to the world.

**2 files changed** (+5 −1)
- \`src/greet.ts\` +4 −1
- \`README.md\` +1 −0

> ⚠️ npm warned about a deprecated package

Pull request: https://github.com/acme/app/pull/7

<sub>[View session](http://localhost:3000/sessions/3f2a) · mention me here to continue</sub>`;

describe("markdownToAdf: Tandem's tracking comment", () => {
  const result = convert(TRACKING_COMMENT);
  const session = link("http://localhost:3000/sessions/3f2a");

  it("keeps the links, the lists and the code", () => {
    expect(result.content.map((n) => n.type)).toEqual([
      "paragraph",
      "bulletList",
      "paragraph",
      "paragraph",
      "bulletList",
      "blockquote",
      "paragraph",
      "paragraph",
    ]);
    expect(result.content[0]).toEqual(
      p(t("Tandem", strong), t(" · ✅ Done · "), t("View session", session)),
    );
    expect(result.content[1]).toEqual({
      type: "bulletList",
      content: [
        item(p(t("☑ ran "), t("npm test", code))),
        item(p(t("☑ edited "), t("src/greet.ts", code))),
      ],
    });
    expect(result.content[4]).toEqual({
      type: "bulletList",
      content: [
        item(p(t("src/greet.ts", code), t(" +4 −1"))),
        item(p(t("README.md", code), t(" +1 −0"))),
      ],
    });
    expect(result.content[6]).toEqual(
      p(
        t("Pull request: "),
        t("https://github.com/acme/app/pull/7", link("https://github.com/acme/app/pull/7")),
      ),
    );
    expect(result.content[7]).toEqual(
      p(t("View session", session), t(" · mention me here to continue")),
    );
  });

  it("leaves no Markdown or HTML in any text", () => {
    for (const text of texts(result)) {
      expect(text).not.toContain("**");
      expect(text).not.toContain("<sub>");
      expect(text).not.toContain("[View session](");
      expect(text).not.toContain("`");
    }
  });
});

describe("adfToText and adfMentions on ADF as Jira sends it", () => {
  const comment = doc(
    p(
      { type: "mention", attrs: { id: "acc-1", text: "@Tandem" } },
      t(" please fix "),
      t("the docs", link("https://docs.test/x")),
      t(" see "),
      t("https://ci.test/1", link("https://ci.test/1")),
    ),
    {
      type: "bulletList",
      content: [
        item(p(t("first")), { type: "orderedList", content: [item(p(t("nested")))] }),
        item(p(t("second"), { type: "hardBreak" }, t("line"))),
      ],
    },
    { type: "codeBlock", attrs: { language: "sh" }, content: [t("npm test\nnpm run lint")] },
    p({ type: "mention", attrs: { id: "acc-2" } }, t(" and "), {
      type: "mention",
      attrs: { id: "acc-1", text: "Tandem" },
    }),
    p({ type: "inlineCard", attrs: { url: "https://jira.test/browse/X-1" } }),
  );

  it("writes blocks and list items on their own lines, mentions as @name", () => {
    expect(adfProblems(comment)).toEqual([]);
    expect(adfToText(comment)).toBe(
      [
        "@Tandem please fix the docs (https://docs.test/x) see https://ci.test/1",
        "first",
        "nested",
        "second",
        "line",
        "npm test",
        "npm run lint",
        "@acc-2 and @Tandem",
        "https://jira.test/browse/X-1",
      ].join("\n"),
    );
  });

  it("finds every mention's account id once, in order", () => {
    expect(adfMentions(comment)).toEqual(["acc-1", "acc-2"]);
    expect(adfMentions(doc(p(t("no one"))))).toEqual([]);
  });

  it("reads what markdownToAdf wrote", () => {
    const text = adfToText(convert("# Title\n\n- **a** `b`\n- c"));
    expect(text).toBe("Title\na b\nc");
  });

  it("tolerates junk", () => {
    for (const junk of [
      undefined,
      null,
      42,
      "text",
      [],
      {},
      { type: 1 },
      { type: "doc", content: "x" },
    ]) {
      expect(adfToText(junk)).toBe("");
      expect(adfMentions(junk)).toEqual([]);
    }
    expect(adfToText({ type: "paragraph", content: [null, { type: "mention" }, t("ok")] })).toBe(
      "@ok",
    );
  });
});

/** Deterministic strings (mulberry32) so a failure reproduces. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  "*",
  "**",
  "_",
  "`",
  "```",
  "~",
  "~~",
  "[",
  "]",
  "(",
  ")",
  "<",
  ">",
  "!",
  "#",
  "- ",
  "1. ",
  "|",
  "\\",
  "&",
  "&amp;",
  ";",
  ":",
  " ",
  "  ",
  "\t",
  "\n",
  "\n\n",
  "    ",
  "a",
  "word",
  "- [x] ",
  "http://x.test/",
  "javascript:",
  "[~accountid:abc]",
  "<br>",
  "<sub>",
  "</sub>",
  "<!--",
  "---",
  "| a | b |\n|---|---|\n",
  "> ",
  "![",
  "](",
  "mailto:",
  "&#",
  "\r\n",
  "😀",
];

const AWKWARD = [
  "```js\nnever closed\n**still code**",
  "**bold with `code` and *em with `code`* inside**",
  "***`all three`*** ~~**`struck bold code`**~~",
  "**[link in bold](https://a.test) and [`code link`](https://b.test)**",
  "[click](javascript:alert(1)) [x](JAVASCRIPT:void(0)) [y]( javascript:1 ) <javascript:alert(1)>",
  "",
  " ",
  "\n\n\t  \n",
  Array.from({ length: 5 }, (_, i) => `${"  ".repeat(i)}- level ${i + 1}`).join("\n"),
  Array.from({ length: 5 }, (_, i) => `${"   ".repeat(i)}1. level ${i + 1}\n`).join("") + "> quote",
  "| `a|b` | **c** |\n|---|---|\n| `x` | [y](https://y.test) |\n| ![i](https://i.test) | <br> |",
  "- | a |\n  |---|\n  | b |\n- # heading in a list\n- ---\n- > quote in a list\n  > > and deeper",
  "> # heading\n> ---\n> | t |\n> |---|\n> | 1 |\n> > > three deep",
  "<div>\n<table><tr><td>x</td></tr></table>\n</div>",
  "<!-- never closed",
  "[](https://empty.test) [ ](https://space.test) ![](<>) [a]()",
  "#\n##\n- \n1.\n>\n- [ ]\n- [x]",
  "[~accountid:] [~accountid:abc [~accountid:a b] [~accountid:abc](https://x.test)",
  "line one\\\nline two  \n<br><br>",
  "&#0; &#xD800; &#1114112; &#x110000; &;",
  "\u0000\u0001\u200b\ufeff",
  "a\r\nb\r\n\r\n- c\r\n",
  TRACKING_COMMENT.repeat(Math.ceil(10_000 / TRACKING_COMMENT.length)).slice(0, 10_000),
  "x".repeat(10_000),
  "- ".repeat(2_000) + "deep",
  ">".repeat(2_000) + " deep",
];

describe("markdownToAdf: awkward input is always valid ADF", () => {
  it.each(AWKWARD.map((md) => [JSON.stringify(md.slice(0, 60)), md]))("%s", (_, md) => {
    convert(md, { mentionable: ["abc"] });
  });

  it("500 random strings of Markdown punctuation (seeded)", () => {
    const random = seeded(20240607);
    for (let i = 0; i < 500; i++) {
      const length = 1 + Math.floor(random() * 60);
      const md = Array.from({ length }, () => PIECES[Math.floor(random() * PIECES.length)]).join(
        "",
      );
      convert(md, { mentionable: ["abc"] });
    }
  });
});

describe("adfProblems", () => {
  it("accepts a valid doc and the empty doc", () => {
    expect(adfProblems(doc(p(t("fine", strong))))).toEqual([]);
    expect(adfProblems(doc())).toEqual([]);
  });

  it("reports an empty text node", () => {
    expect(adfProblems(doc(p(t("ok")), p(t(""))))).toEqual([
      "/content/1/content/0/text: must NOT have fewer than 1 characters",
    ]);
  });

  it("reports code combined with strong", () => {
    const problems = adfProblems(doc(p(t("x", code, strong))));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("\n")).toContain(
      '/content/0/content/0/marks/1: "strong" is not allowed here',
    );
  });

  it("reports a node where its parent does not allow it, and junk", () => {
    const quoteInQuote = doc({
      type: "blockquote",
      content: [{ type: "blockquote", content: [p(t("x"))] }],
    });
    expect(adfProblems(quoteInQuote)).toEqual([
      expect.stringMatching(
        /^\/content\/0\/content\/0: "blockquote" is not allowed here \(allowed: paragraph, /,
      ),
    ]);
    expect(adfProblems({ type: "doc", content: [] })).toEqual([
      "/: must have required property 'version'",
    ]);
    expect(adfProblems("text")).toEqual(["/: must be object"]);
  });
});
