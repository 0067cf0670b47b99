// Blueprints: each loaded one with its endpoint and skills; one opens with its graph.

import { api } from "../api.js";
import { drawGraph } from "../graph.js";
import { el, table } from "../util.js";

export async function render(view, [name]) {
  const list = await api("GET", "/api/v1/blueprints");
  const rows = list.map((b) => {
    const link = el("a", { href: `#/blueprints/${encodeURIComponent(b.name)}` }, b.name);
    return [
      b.name === name ? el("b", {}, link) : link,
      b.version || "–",
      el("span", { class: "mono" }, `POST ${b.endpoint}`),
      el("span", { class: "skills" }, b.skills.length ? b.skills.map((s) => el("span", { class: "chip" }, s)) : "–"),
      b.description || "",
    ];
  });
  const parts = [el("h1", {}, "Blueprints ", el("span", { class: "count" }, String(list.length)))];
  if (name) {
    const g = await api("GET", `/api/v1/blueprints/${encodeURIComponent(name)}/graph?format=json`);
    const about = list.find((b) => b.name === name);
    parts.push(el("div", { class: "panel" },
      el("h2", {}, `${name} `, el("span", { class: "muted" }, about?.description || "")),
      el("div", { id: "graph", class: "scroll" }, drawGraph(g))));
  }
  parts.push(el("div", { class: "panel", id: "blueprints" }, table(["Name", "Version", "Creates jobs at", "Skills", "Description"], rows)));
  view.replaceChildren(...parts);
  return null;
}
