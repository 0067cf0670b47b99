// Small helpers shared by the pages: building DOM nodes, formatting times and values.

/** An element: `el("td", {class: "mono"}, "text", child, [more, [children]], ...)`. Strings become text; nested arrays are flattened. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "html") node.innerHTML = v; // only for trusted, built-in markup
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** A status badge (`waiting_for_human` reads "waiting for human"). */
export function badge(status, id) {
  return el("span", { class: `badge ${status || ""}`, "data-status": status, id }, status ? status.replaceAll("_", " ") : "–");
}

/** `2026-12-07 10:00:03` (local time) from RFC 3339 or epoch ms. */
export function when(t) {
  if (t === undefined || t === null || t === "") return "–";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `10:00:03.250` (local time, with milliseconds) from RFC 3339 or epoch ms. */
export function clock(t) {
  const d = new Date(t);
  if (t === undefined || t === null || Number.isNaN(d.getTime())) return "–";
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `850 ms`, `12.3 s`, `4 min 2 s` from milliseconds. */
export function duration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** JSON, indented, in a <pre>. */
export function json(value) {
  return el("pre", {}, JSON.stringify(value, null, 2));
}

/** A table from headers and rows (arrays of cells: strings or nodes). */
export function table(headers, rows, empty = "Nothing yet.") {
  if (!rows.length) return el("p", { class: "muted" }, empty);
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c)))))),
  );
}

/** A short message in the corner. */
export function toast(text, bad = false) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 4000);
}
