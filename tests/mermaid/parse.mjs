// Parse a Mermaid document from stdin with mermaid's own parser and print what it understood as
// JSON: the diagram type, vertices (with any click link), edges and subgraphs. Exit 1 with the
// parser's message on a syntax error. Mermaid's module needs a DOM (DOMPurify), hence jsdom.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const mermaid = (await import("mermaid")).default;

// Text as a reader sees it: mermaid keeps entities (#quot;) in an internal form until it draws;
// undo that form (as its decodeEntities does), then let the DOM decode the HTML entities.
const shown = (value) => {
  const html = String(value ?? "").replace(/ﬂ°°/g, "&#").replace(/ﬂ°/g, "&").replace(/¶ß/g, ";");
  const area = document.createElement("textarea");
  area.innerHTML = html;
  return area.value;
};

const text = readFileSync(0, "utf8");
try {
  await mermaid.parse(text); // throws on invalid syntax; also registers the diagram types
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db;
  console.log(JSON.stringify({
    type: diagram.type,
    vertices: [...db.getVertices().values()].map((v) => ({ id: v.id, text: shown(v.text), link: v.link ?? null })),
    edges: db.getEdges().map((e) => ({ start: e.start, end: e.end, text: shown(e.text) })),
    subgraphs: db.getSubGraphs().map((s) => ({ id: s.id, title: shown(s.title), nodes: [...s.nodes].sort() })),
  }));
} catch (error) {
  console.error(String(error?.message ?? error).split("\n")[0]);
  process.exit(1);
}
