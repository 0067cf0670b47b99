// Blueprints: each loaded one with its endpoint and skills, and its graph.

import { api } from "../api.js";
import { drawGraph } from "../graph.js";
import { el, table } from "../util.js";

export async function render(main, [name]) {
  const list = await api("GET", "/api/v1/blueprints");
  const rows = list.map((b) => [
    el("a", { href: `#/blueprints/${b.name}` }, b.name),
    el("span", { class: "mono" }, `POST ${b.endpoint}`),
    b.skills.join(", ") || "–",
    b.description || "",
  ]);
  const parts = [el("h1", {}, "Blueprints"), el("div", { class: "panel" }, table(["name", "creates jobs at", "skills", "description"], rows))];
  if (name) {
    const g = await api("GET", `/api/v1/blueprints/${encodeURIComponent(name)}/graph?format=json`);
    parts.push(el("div", { class: "panel" }, el("h2", {}, name), el("div", { id: "graph", style: "overflow:auto" }, drawGraph(g))));
  }
  main.replaceChildren(...parts);
  return null;
}
