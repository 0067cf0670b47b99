// Workers: each live registration with its skills, load (tasks in hand), last heartbeat
// and WebSocket. Read again every few seconds and when job counts move.

import { api } from "../api.js";
import { badge, el, table, when } from "../util.js";

const EVERY_MS = 5000;

function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
  return Number.isNaN(s) ? "–" : s < 60 ? `${s} s ago` : `${Math.floor(s / 60)} min ago`;
}

export async function render(view) {
  const draw = async () => {
    const workers = await api("GET", "/api/v1/workers");
    const rows = workers.map((w) => [
      el("span", { class: "mono" }, w.worker_id),
      badge(w.status),
      w.worker_type || "–",
      el("span", { class: "skills" }, w.skills.map((s) => el("span", { class: "chip" }, s))),
      String(w.current_tasks.length),
      w.current_tasks.length ? el("span", { class: "mono" }, w.current_tasks.join(" ")) : "–",
      w.websocket ? "connected" : "–",
      el("span", { title: when(w.last_seen) }, ago(w.last_seen)),
      when(w.registered_at),
    ]);
    view.replaceChildren(
      el("h1", {}, "Workers ", el("span", { class: "count" }, String(workers.length))),
      el("div", { class: "panel", id: "workers" },
        table(["Worker", "Status", "Type", "Skills", "Load", "Tasks in hand", "WebSocket", "Last heartbeat", "Registered"], rows, "No worker is registered.")),
    );
  };
  await draw();
  let shown = false;
  const timer = setInterval(() => {
    if (view.isConnected) {
      shown = true;
      draw().catch(() => {});
    } else if (shown) clearInterval(timer); // the page was left
  }, EVERY_MS);
  let pending = null;
  return {
    update(kind) {
      if (kind === "counts" && !pending) pending = setTimeout(() => { pending = null; draw(); }, 500);
    },
  };
}
