// A blueprint's state machine drawn as SVG: states in columns by their distance from the
// start (left to right, each column centred), edges as curves labelled with their outcome.
// A job's current state and the states it went through are marked. No layout library:
// blueprints are small.

const NS = "http://www.w3.org/2000/svg";
const W = 160, H = 46, GAP_X = 90, GAP_Y = 22, PAD = 20, LABEL_MAX = 30;

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

const clip = (s, max) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** Columns of node ids: breadth-first from the start (unreached states last). */
function columns(graph) {
  const rank = new Map();
  const order = [];
  const start = graph.nodes.find((n) => n.start) || graph.nodes[0];
  const next = new Map(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) next.get(e.from)?.push(e.to);
  if (start) {
    rank.set(start.id, 0);
    order.push(start.id);
    for (let i = 0; i < order.length; i++) {
      for (const to of next.get(order[i]) || []) {
        if (!rank.has(to) && next.has(to)) {
          rank.set(to, rank.get(order[i]) + 1);
          order.push(to);
        }
      }
    }
  }
  const last = Math.max(-1, ...rank.values()) + 1;
  for (const n of graph.nodes) {
    if (!rank.has(n.id)) {
      rank.set(n.id, last);
      order.push(n.id);
    }
  }
  const cols = [];
  for (const id of order) (cols[rank.get(id)] ||= []).push(id);
  return cols.filter(Boolean);
}

function shape(node) {
  if (node.kind === "end") return svg("rect", { width: W, height: H, rx: H / 2 });
  if (node.kind === "branch") return svg("polygon", { points: `${W / 2},0 ${W},${H / 2} ${W / 2},${H} 0,${H / 2}` });
  if (node.kind === "approval") return svg("polygon", { points: `12,0 ${W - 12},0 ${W},${H / 2} ${W - 12},${H} 12,${H} 0,${H / 2}` });
  return svg("rect", { width: W, height: H, rx: 6 });
}

function arrowhead() {
  const m = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  m.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
  const defs = svg("defs");
  defs.append(m);
  return defs;
}

/**
 * The graph (`{nodes, edges}` of `/api/v1/blueprints/{name}/graph?format=json`) as SVG.
 * `current`: the job's state; `status`: the job's status (colours the current state);
 * `visited`: states the job entered.
 */
export function drawGraph(graph, { current = null, status = null, visited = new Set() } = {}) {
  const cols = columns(graph);
  const tallest = Math.max(1, ...cols.map((c) => c.length));
  const height = PAD * 2 + tallest * H + (tallest - 1) * GAP_Y + 28; // room for loops below
  const width = PAD * 2 + cols.length * W + Math.max(0, cols.length - 1) * GAP_X;
  const pos = new Map();
  cols.forEach((ids, c) => {
    const top = PAD + ((tallest - ids.length) * (H + GAP_Y)) / 2;
    ids.forEach((id, i) => pos.set(id, { x: PAD + c * (W + GAP_X), y: top + i * (H + GAP_Y) }));
  });
  const root = svg("svg", { class: "graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `State graph of ${graph.name}` });
  root.append(arrowhead());
  const labels = svg("g", { class: "labels" });
  for (const e of graph.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const g = svg("g", { class: `edge${visited.has(e.from) && visited.has(e.to) ? " taken" : ""}`, "data-from": e.from, "data-to": e.to });
    let d, lx, ly;
    if (b.x > a.x) {
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 2, y2 = b.y + H / 2;
      d = `M ${x1} ${y1} C ${x1 + GAP_X / 2} ${y1}, ${x2 - GAP_X / 2} ${y2}, ${x2} ${y2}`;
      lx = (x1 + x2) / 2; ly = (y1 + y2) / 2 - 5;
    } else {
      // Back or same-column edge: a loop under the nodes.
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2 + (a === b ? 24 : 0), y2 = b.y + H + 2;
      const dip = Math.max(y1, y2) + 26;
      d = `M ${x1} ${y1} C ${x1} ${dip}, ${x2} ${dip}, ${x2} ${y2}`;
      lx = (x1 + x2) / 2; ly = dip - 4;
    }
    g.append(svg("path", { d, "marker-end": "url(#arrow)" }));
    const label = svg("text", { x: lx, y: ly, "text-anchor": "middle" }, clip(e.label, LABEL_MAX));
    label.append(svg("title", {}, e.label));
    labels.append(label);
    root.append(g);
  }
  for (const n of graph.nodes) {
    const p = pos.get(n.id);
    const cls = ["node", n.kind, n.start ? "start" : "", n.id === current ? "current" : "", n.id === current && status ? `is-${status}` : "", visited.has(n.id) ? "visited" : ""];
    const g = svg("g", { class: cls.filter(Boolean).join(" "), transform: `translate(${p.x},${p.y})`, "data-state": n.id });
    g.append(svg("title", {}, `${n.id} (${n.kind})${n.detail ? `: ${n.detail}` : ""}${n.start ? " · start" : ""}`));
    g.append(shape(n));
    g.append(svg("text", { class: "name", x: W / 2, y: n.detail ? 19 : 28, "text-anchor": "middle" }, clip(n.id, 22)));
    if (n.detail) g.append(svg("text", { class: "detail", x: W / 2, y: 34, "text-anchor": "middle" }, clip(n.detail, 26)));
    root.append(g);
  }
  root.append(labels); // over the nodes' edges, under nothing
  return root;
}
