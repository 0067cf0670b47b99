// A blueprint's state machine drawn as SVG: states in columns by their distance from the
// start (left to right), edges as curves labelled with their outcome. The current state
// and the states a job went through are marked. No layout library: blueprints are small.

const NS = "http://www.w3.org/2000/svg";
const W = 150, H = 44, GAP_X = 70, GAP_Y = 26;

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

/** Column of each node: its shortest distance from the start (unreached ones last). */
function ranks(graph) {
  const out = new Map();
  const start = graph.nodes.find((n) => n.start) || graph.nodes[0];
  if (!start) return out;
  const next = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) next.get(e.from)?.push(e.to);
  out.set(start.id, 0);
  const queue = [start.id];
  while (queue.length) {
    const id = queue.shift();
    for (const to of next.get(id) || []) {
      if (!out.has(to)) {
        out.set(to, out.get(id) + 1);
        queue.push(to);
      }
    }
  }
  const last = Math.max(0, ...out.values()) + 1;
  for (const n of graph.nodes) if (!out.has(n.id)) out.set(n.id, last);
  return out;
}

function shape(node, g) {
  const attrs = { x: 0, y: 0, width: W, height: H, rx: 6 };
  if (node.kind === "end") return svg("ellipse", { cx: W / 2, cy: H / 2, rx: W / 2, ry: H / 2 });
  if (node.kind === "branch") return svg("polygon", { points: `${W / 2},0 ${W},${H / 2} ${W / 2},${H} 0,${H / 2}` });
  if (node.kind === "approval") return svg("polygon", { points: `0,10 ${W / 2},0 ${W},10 ${W},${H} 0,${H}` });
  return svg("rect", attrs);
}

/** The graph (`{nodes, edges}` of `/api/v1/blueprints/{name}/graph?format=json`) as SVG. */
export function drawGraph(graph, { current = null, visited = new Set() } = {}) {
  const rank = ranks(graph);
  const columns = new Map();
  for (const n of graph.nodes) {
    const r = rank.get(n.id);
    if (!columns.has(r)) columns.set(r, []);
    columns.get(r).push(n);
  }
  const pos = new Map();
  let height = 0;
  for (const [r, nodes] of columns) {
    nodes.forEach((n, i) => pos.set(n.id, { x: 20 + r * (W + GAP_X), y: 20 + i * (H + GAP_Y) }));
    height = Math.max(height, 20 + nodes.length * (H + GAP_Y));
  }
  const width = 40 + columns.size * (W + GAP_X);
  const root = svg("svg", { class: "graph", width, height: height + 20, viewBox: `0 0 ${width} ${height + 20}` });
  root.append(svg("defs")).append(
    (() => {
      const m = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      m.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9aa3b5" }));
      return m;
    })(),
  );
  for (const e of graph.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const g = svg("g", { class: "edge", "data-from": e.from, "data-to": e.to });
    let d, lx, ly;
    if (b.x > a.x) {
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      d = `M ${x1} ${y1} C ${x1 + GAP_X / 2} ${y1}, ${x2 - GAP_X / 2} ${y2}, ${x2} ${y2}`;
      lx = (x1 + x2) / 2; ly = (y1 + y2) / 2 - 4;
    } else {
      // Back or same-column edge: a loop under the nodes.
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y + H;
      const dip = Math.max(y1, y2) + 24;
      d = `M ${x1} ${y1} C ${x1} ${dip}, ${x2} ${dip}, ${x2} ${y2}`;
      lx = (x1 + x2) / 2; ly = dip - 2;
    }
    g.append(svg("path", { d, "marker-end": "url(#arrow)" }));
    g.append(svg("text", { x: lx, y: ly, "text-anchor": "middle" }, e.label));
    root.append(g);
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    const cls = ["node", n.id === current ? "current" : "", visited.has(n.id) ? "visited" : ""].join(" ");
    const g = svg("g", { class: cls, transform: `translate(${p.x},${p.y})`, "data-state": n.id });
    g.append(shape(n, g));
    g.append(svg("text", { x: W / 2, y: n.detail ? 18 : 26, "text-anchor": "middle", "font-weight": n.start ? "700" : "400" }, n.id));
    if (n.detail) g.append(svg("text", { class: "detail", x: W / 2, y: 33, "text-anchor": "middle" }, n.detail.slice(0, 26)));
    root.append(g);
  }
  return root;
}
