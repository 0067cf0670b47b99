// One job: its status and actions (cancel, pause, resume, retry, approve), its state
// graph with the current state marked, its history as a timeline with durations, its
// tasks and their workers, its context and result. Redrawn when the job moves.

import { api } from "../api.js";
import { drawGraph } from "../graph.js";
import { badge, duration, el, json, table, toast, when } from "../util.js";

const TERMINAL = ["finished", "failed", "quarantined", "cancelled"];

function actions(job, refresh) {
  const act = (label, path, cls, body) =>
    el("button", {
      type: "button",
      class: cls || "",
      id: `action-${label.toLowerCase().split(" ")[0]}`,
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api("POST", path, body || {});
          toast(`${label}: done`);
        } catch (err) {
          toast(`${label}: ${err.message}`, true);
        }
        refresh();
      },
    }, label);
  const out = [];
  const live = !TERMINAL.includes(job.status);
  if (live) out.push(act("Cancel", `/api/v1/jobs/${job.id}/cancel`, "danger"));
  if (live && job.status !== "paused") out.push(act("Pause", `/api/v1/jobs/${job.id}/pause`, "secondary"));
  if (job.status === "paused") out.push(act("Resume", `/api/v1/jobs/${job.id}/resume`));
  if (job.status === "failed" || job.status === "quarantined") out.push(act("Retry", `/api/v1/jobs/${job.id}/retry`));
  if (job.approval) {
    for (const d of job.approval.decisions) {
      out.push(act(`Approve ${d}`, `/_public/webhooks/approval/${job.id}`, d === "rejected" ? "danger" : "", { decision: d }));
    }
  }
  return el("div", { class: "actions", id: "actions" }, out);
}

function timeline(history) {
  const items = history.map((h, i) => {
    const next = history[i + 1];
    const took = h.duration_ms ?? (next ? next.timestamp_ms - h.timestamp_ms : null);
    const what = [h.event_type.replaceAll("_", " "), h.state ? `· ${h.state}` : "", h.worker_id ? `· ${h.worker_id}` : "", h.result_status ? `· ${h.result_status}` : "", h.error?.message ? `· ${h.error.message}` : ""].filter(Boolean).join(" ");
    return el("li", {}, el("span", { class: "mono" }, when(h.timestamp_ms)), el("span", {}, what), el("span", { class: "dur" }, took === null ? "" : duration(took)));
  });
  return el("ol", { class: "timeline", id: "history" }, items);
}

async function graphOf(job, history) {
  try {
    const g = await api("GET", `/api/v1/blueprints/${encodeURIComponent(job.blueprint_name)}/graph?format=json`);
    const visited = new Set(history.filter((h) => h.event_type === "state_started").map((h) => h.state || h.next_state));
    return drawGraph(g, { current: TERMINAL.includes(job.status) ? null : job.state, visited });
  } catch (err) {
    return el("p", { class: "muted" }, `No graph: ${err.message}`);
  }
}

export async function render(main, [id]) {
  async function draw(job) {
    const history = await api("GET", `/api/v1/jobs/${id}/history`).catch(() => []);
    const list = Array.isArray(history) ? history : history.history || [];
    const tasks = (job.tasks || []).map((t) => [el("span", { class: "mono" }, t.task_id), t.type, badge(t.state), t.worker_id || "–", when(t.started_at)]);
    main.replaceChildren(
      el("h1", {}, "Job ", el("span", { class: "mono" }, job.id), " ", badge(job.status), " ", el("span", { class: "live" }, "● live")),
      el("div", { class: "panel" },
        el("p", {}, `Blueprint `, el("a", { href: `#/blueprints/${job.blueprint_name}` }, job.blueprint_name), ` · client ${job.client} · state `, el("b", { id: "job-state" }, job.state),
          ` · created ${when(job.created_at)}`, job.finished_at ? ` · ended ${when(job.finished_at)}` : ""),
        job.hint ? el("div", { class: "hint", id: "hint" }, job.hint) : null,
        job.error ? el("p", { class: "err" }, `Error: ${job.error.message || JSON.stringify(job.error)}`) : null,
        actions(job, refresh)),
      el("div", { class: "panel" }, el("h2", {}, "State graph"), el("div", { id: "graph", style: "overflow:auto" }, await graphOf(job, list))),
      el("div", { class: "grid2" },
        el("div", { class: "panel" }, el("h2", {}, "History"), timeline(list)),
        el("div", { class: "panel" },
          el("h2", {}, "Tasks"), table(["task", "skill", "state", "worker", "started"], tasks, "No task in hand."),
          el("h2", {}, "Context"), json(job.initial_data),
          "result" in job ? [el("h2", {}, "Result"), json(job.result)] : null)),
    );
  }
  async function refresh() {
    draw(await api("GET", `/api/v1/jobs/${id}`));
  }
  await draw(await api("GET", `/api/v1/jobs/${id}`));
  return {
    job: id,
    update(kind, data) {
      if (kind === "job") draw(data);
    },
  };
}
