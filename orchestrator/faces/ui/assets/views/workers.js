// Workers: each live registration with its skills, load (tasks in hand), last heartbeat
// and WebSocket.

import { api } from "../api.js";
import { badge, el, table, when } from "../util.js";

export async function render(main) {
  const draw = async () => {
    const workers = await api("GET", "/api/v1/workers");
    const rows = workers.map((w) => [
      el("span", { class: "mono" }, w.worker_id),
      badge(w.status),
      w.skills.join(", "),
      String(w.current_tasks.length),
      w.current_tasks.length ? el("span", { class: "mono" }, w.current_tasks.join(" ")) : "–",
      w.websocket ? "yes" : "no",
      when(w.last_seen),
      when(w.registered_at),
    ]);
    main.replaceChildren(
      el("h1", {}, `Workers (${workers.length})`),
      el("div", { class: "panel", id: "workers" },
        table(["worker", "status", "skills", "load", "tasks in hand", "WebSocket", "last heartbeat", "registered"], rows, "No worker is registered.")),
    );
  };
  await draw();
  let pending = null;
  return {
    update(kind) {
      if (kind === "counts" && !pending) pending = setTimeout(() => { pending = null; draw(); }, 500);
    },
  };
}
