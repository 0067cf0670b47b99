// Jobs per time bucket as an SVG chart: finished (green) and failed (red) stacked bars,
// created as a line, a light grid with the hours along the bottom.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

const hhmm = (t) => {
  const d = new Date(t);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
};

/** A round top for the y axis: 1, 2, 5, 10, 20, 50, ... */
function niceTop(v) {
  const p = 10 ** Math.floor(Math.log10(Math.max(1, v)));
  return [1, 2, 5, 10].map((m) => m * p).find((n) => n >= v);
}

/** `buckets`: `[{start, created, finished, failed}]`, oldest first. */
export function drawTimeline(buckets, width = 1200, height = 200) {
  const pad = { l: 36, r: 10, t: 10, b: 22 };
  const top = niceTop(Math.max(1, ...buckets.map((b) => Math.max(b.created, b.finished + b.failed))));
  const iw = width - pad.l - pad.r, ih = height - pad.t - pad.b;
  const bw = iw / Math.max(1, buckets.length);
  const y = (v) => pad.t + ih - (v / top) * ih;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Jobs created, finished and failed per minute" });
  for (const v of [0, top / 2, top]) {
    root.append(svg("line", { class: "grid", x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }));
    root.append(svg("text", { x: pad.l - 6, y: y(v) + 3, "text-anchor": "end" }, String(v)));
  }
  buckets.forEach((b, i) => {
    const x = pad.l + i * bw + 1, w = Math.max(1, bw - 2);
    const okH = ih * (b.finished / top), badH = ih * (b.failed / top);
    const tip = `${hhmm(b.start)}: ${b.created} created, ${b.finished} finished, ${b.failed} failed`;
    const g = svg("g", {});
    g.append(svg("title", {}, tip));
    if (okH) g.append(svg("rect", { class: "bar-ok", x, width: w, y: pad.t + ih - okH, height: okH }));
    if (badH) g.append(svg("rect", { class: "bar-bad", x, width: w, y: pad.t + ih - okH - badH, height: badH }));
    root.append(g);
    if (i % 15 === 0 || i === buckets.length - 1) {
      root.append(svg("text", { x: pad.l + i * bw + bw / 2, y: height - 6, "text-anchor": i === buckets.length - 1 ? "end" : "middle" }, hhmm(b.start)));
    }
  });
  const points = buckets.map((b, i) => `${pad.l + i * bw + bw / 2},${y(b.created)}`).join(" ");
  root.append(svg("polyline", { class: "line", points }));
  return root;
}
