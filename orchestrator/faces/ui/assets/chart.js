// Jobs per time bucket as an SVG chart: finished (green) and failed (red) stacked bars,
// created as a line.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
}

/** `buckets`: `[{start, created, finished, failed}]`, oldest first. */
export function drawTimeline(buckets, width = 900, height = 180) {
  const pad = { l: 36, r: 8, t: 10, b: 22 };
  const top = Math.max(1, ...buckets.map((b) => Math.max(b.created, b.finished + b.failed)));
  const iw = width - pad.l - pad.r, ih = height - pad.t - pad.b;
  const bw = iw / Math.max(1, buckets.length);
  const y = (v) => pad.t + ih - (v / top) * ih;
  const root = svg("svg", { class: "chart", width: "100%", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none" });
  for (const v of [0, top]) {
    root.append(svg("text", { x: pad.l - 4, y: y(v) + 3, "text-anchor": "end" }, String(v)));
    root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v), stroke: "#e2e5ea" }));
  }
  buckets.forEach((b, i) => {
    const x = pad.l + i * bw + 1, w = Math.max(1, bw - 2);
    const okH = ih * (b.finished / top), badH = ih * (b.failed / top);
    root.append(svg("rect", { class: "bar-ok", x, width: w, y: pad.t + ih - okH, height: okH }));
    root.append(svg("rect", { class: "bar-bad", x, width: w, y: pad.t + ih - okH - badH, height: badH }));
  });
  const points = buckets.map((b, i) => `${pad.l + i * bw + bw / 2},${y(b.created)}`).join(" ");
  root.append(svg("polyline", { class: "line", points }));
  const label = (i) => {
    const d = new Date(buckets[i].start);
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  };
  if (buckets.length) {
    root.append(svg("text", { x: pad.l, y: height - 6 }, label(0)));
    root.append(svg("text", { x: width - pad.r, y: height - 6, "text-anchor": "end" }, label(buckets.length - 1)));
  }
  return root;
}
