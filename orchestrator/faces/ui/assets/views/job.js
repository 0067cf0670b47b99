// One job: its status and actions (cancel, pause, resume, retry, approve), its state
// graph with the current state marked, its history as a timeline, its tasks and their
// workers, its input and result. Redrawn when the live stream says the job moved.

import { api } from "../api.js";
import { drawGraph } from "../graph.js";
import { badge, clock, duration, el, json, table, toast, when } from "../util.js";

const TERMINAL = ["finished", "failed", "quarantined", "cancelled"];
const DECISION_LABELS = { approved: "Approve", rejected: "Reject" };

function actions(job, refresh) {
  const act = (id, label, path, cls, body) =>
    el("button", {
      type: "button",
      class: cls || "",
      id: `action-${id}`,
      onclick: async (e) => {
        e.currentTarget.disabled = true;
        try {
          await api("POST", path, body || {});
          toast(`${label}: done`);
        } catch (err) {
          toast(`${label}: ${err.message}`, true);
        }
        await refresh();
      },
    }, label);
  const out = [];
  const id = encodeURIComponent(job.id);
  const live = !TERMINAL.includes(job.status);
  if (job.approval) {
    for (const d of job.approval.decisions) {
      const label = DECISION_LABELS[d] || `Decide: ${d}`;
      out.push(act(label.toLowerCase().replace(/[^a-z]+/g, "-"), label, `/_public/webhooks/approval/${id}`, d === "rejected" ? "secondary" : "", { decision: d }));
    }
  }
  if (job.status === "paused") out.push(act("resume", "Resume", `/api/v1/jobs/${id}/resume`));
  else if (live) out.push(act("pause", "Pause", `/api/v1/jobs/${id}/pause`, "secondary"));
  if (job.status === "failed" || job.status === "quarantined") out.push(act("retry", "Retry", `/api/v1/jobs/${id}/retry`));
  if (live) out.push(act("cancel", "Cancel", `/api/v1/jobs/${id}/cancel`, "danger"));
  return out.length ? el("div", { class: "actions", id: "actions" }, out) : null;
}

function describe(h) {
  const parts = [h.event_type.replaceAll("_", " ")];
  if (h.state) parts.push(h.state);
  if (h.worker_id) parts.push(h.worker_id);
  if (h.result_status) parts.push(h.result_status);
  if (h.status && h.status !== h.state) parts.push(h.status);
  return parts.join(" · ");
}

function timeline(history) {
  if (!history.length) return el("p", { class: "muted", id: "history" }, "No history.");
  const items = history.map((h) => {
    const bad = h.error?.message || h.previous_error?.message;
    return el("li", { class: h.error ? "bad" : "" },
      el("span", { class: "mono muted", title: when(h.timestamp_ms) }, clock(h.timestamp_ms)),
      el("span", {}, describe(h), bad ? el("div", { class: "err small" }, bad) : null),
      el("span", { class: "dur" }, h.duration_ms === undefined || h.duration_ms === null ? "" : duration(h.duration_ms)));
  });
  return el("ol", { class: "timeline", id: "history" }, items);
}

function facts(job) {
  const ended = job.finished_at ? Date.parse(job.finished_at) : null;
  const took = (ended || Date.now()) - Date.parse(job.created_at);
  const rows = [
    ["Blueprint", el("a", { href: `#/blueprints/${encodeURIComponent(job.blueprint_name)}` }, job.blueprint_name)],
    ["Client", job.client],
    ["State", el("span", { class: "mono", id: "job-state" }, job.state)],
    ["Run", el("span", { id: "job-run" }, String(job.run ?? 1))],
    ["Attempt", String(job.attempt ?? "–")],
    ["Created", when(job.created_at)],
    [ended ? "Ended" : "Updated", when(job.finished_at || job.updated_at)],
    [ended ? "Took" : "Running for", duration(took)],
  ];
  if (job.progress !== null && job.progress !== undefined) rows.push(["Progress", `${Math.round(job.progress * 100)}%${job.progress_message ? ` · ${job.progress_message}` : ""}`]);
  if (job.parent_job_id) rows.push(["Parent", el("a", { class: "mono", href: `#/jobs/${job.parent_job_id}` }, job.parent_job_id)]);
  if (job.sub_job_id) rows.push(["Sub-job", el("a", { class: "mono", href: `#/jobs/${job.sub_job_id}` }, job.sub_job_id)]);
  return el("dl", { class: "facts" }, rows.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

export async function render(view, [id]) {
  const graphs = new Map(); // blueprint → its graph (or the error), read once per page
  async function graphOf(name) {
    if (!graphs.has(name)) {
      graphs.set(name, await api("GET", `/api/v1/blueprints/${encodeURIComponent(name)}/graph?format=json`).catch((err) => err));
    }
    return graphs.get(name);
  }

  let seq = 0;
  async function draw(job) {
    const mine = ++seq;
    const [history, graph] = await Promise.all([
      api("GET", `/api/v1/jobs/${encodeURIComponent(id)}/history`).catch(() => []),
      graphOf(job.blueprint_name),
    ]);
    if (mine !== seq) return; // a newer view of the job is being drawn
    const list = Array.isArray(history) ? history : [];
    const visited = new Set(list.filter((h) => h.event_type === "state_started").map((h) => h.state));
    const picture = graph instanceof Error
      ? el("p", { class: "muted" }, `No graph: ${graph.message}`)
      : drawGraph(graph, { current: job.state, status: job.status, visited });
    const tasks = (job.tasks || []).map((t) => [el("span", { class: "mono" }, t.task_id), t.type, badge(t.state), t.worker_id ? el("span", { class: "mono" }, t.worker_id) : "–", when(t.started_at)]);
    const terminal = TERMINAL.includes(job.status);
    view.replaceChildren(
      el("div", { class: "crumbs" }, el("a", { href: "#/jobs" }, "Jobs"), " / ", job.blueprint_name),
      el("h1", {}, "Job ", el("span", { class: "mono", id: "job-id" }, job.id), " ",
        badge(job.status, "job-status"), terminal ? null : el("span", { class: "live" }, "live")),
      el("div", { class: "panel" },
        facts(job),
        job.hint ? el("div", { class: "hint", id: "hint" }, job.hint) : null,
        job.approval ? el("div", { class: "hint", id: "approval" }, `Waiting for a decision: ${job.approval.message || "approve or reject"}`) : null,
        job.error ? el("div", { class: "error-box", id: "job-error" }, el("b", {}, job.error.code || "Error"), `: ${job.error.message || JSON.stringify(job.error)}`) : null,
        actions(job, refresh)),
      el("div", { class: "panel" }, el("h2", {}, "State graph"), el("div", { id: "graph", class: "scroll" }, picture)),
      el("div", { class: "grid2" },
        el("div", { class: "panel" }, el("h2", {}, `History (${list.length})`), timeline(list)),
        el("div", { class: "panel" },
          el("h2", {}, "Tasks"), el("div", { id: "tasks" }, table(["task", "skill", "state", "worker", "started"], tasks, terminal ? "None: the job has ended." : "No task in hand.")),
          el("h2", {}, "Input"), json(job.initial_data),
          "result" in job ? [el("h2", {}, "Result"), el("div", { id: "result" }, json(job.result))] : null)),
    );
  }
  async function refresh() {
    await draw(await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`));
  }
  await refresh();
  return {
    job: id,
    update(kind, data) {
      if (kind === "job") draw(data);
    },
  };
}
