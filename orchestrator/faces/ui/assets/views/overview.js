// Overview: jobs by status, the last hour's throughput and failures, queues (backlog and
// oldest waiting task per skill) and workers online. Counts move live; queues and workers
// are read again when they do.

import { api } from "../api.js";
import { drawTimeline } from "../chart.js";
import { el, table } from "../util.js";

const ORDER = ["pending", "running", "waiting_for_human", "waiting_for_parallel_tasks", "waiting_for_sub_job", "awaiting_retry", "paused", "finished", "failed", "quarantined", "cancelled"];

function counts(jobs) {
  const names = [...ORDER.filter((s) => jobs[s]), ...Object.keys(jobs).filter((s) => jobs[s] && !ORDER.includes(s))];
  if (!names.length) return el("p", { class: "muted", id: "counts" }, "No jobs yet.");
  const total = names.reduce((n, s) => n + jobs[s], 0);
  return el(
    "div",
    { class: "cards", id: "counts" },
    el("a", { class: "card total", href: "#/jobs" }, el("div", { class: "n" }, String(total)), el("div", { class: "l" }, "all jobs")),
    names.map((s) =>
      el("a", { class: `card status-${s}`, href: `#/jobs?status=${s}`, "data-status": s },
        el("div", { class: "n" }, String(jobs[s])),
        el("div", { class: "l" }, s.replaceAll("_", " ")))),
  );
}

async function chart(s) {
  if (!s.admin) return el("p", { class: "muted" }, "The throughput chart counts every client's jobs: log in with the admin token to see it.");
  const t = await api("GET", "/api/v1/stats/timeline?minutes=60&bucket_seconds=60");
  const total = (k) => t.buckets.reduce((n, b) => n + b[k], 0);
  const key = (cls, text) => el("span", { class: `key ${cls}` }, text);
  return el("div", {},
    el("p", { class: "muted legend" }, `Last hour: ${total("created")} created, ${total("finished")} finished, ${total("failed")} failed, per minute. `,
      key("ok", "finished"), key("bad", "failed"), key("line", "created")),
    drawTimeline(t.buckets));
}

function queues(d) {
  const rows = Object.entries(d.queues || {}).map(([skill, q]) => [
    el("span", { class: "mono" }, skill),
    String(q.depth),
    q.oldest_task_age_seconds === null || q.oldest_task_age_seconds === undefined ? "–" : `${q.oldest_task_age_seconds.toFixed(1)} s`,
  ]);
  return table(["Skill", "Waiting tasks", "Oldest waits"], rows, "No queue has tasks.");
}

function workers(d) {
  const w = d.workers || { total: 0, by_status: {} };
  return el("div", { class: "cards" },
    el("a", { class: "card", href: "#/workers" }, el("div", { class: "n", id: "workers-online" }, String(w.total)), el("div", { class: "l" }, "online")),
    ...Object.entries(w.by_status || {}).map(([k, n]) => el("div", { class: "card", "data-status": k }, el("div", { class: "n" }, String(n)), el("div", { class: "l" }, k))));
}

export async function render(view, _params, s) {
  const [d, c] = await Promise.all([api("GET", "/api/v1/dashboard"), chart(s)]);
  const countsBox = el("div", {}, counts(d.jobs || {}));
  const queuesBox = el("div", { id: "queues" }, queues(d));
  const workersBox = el("div", { id: "workers-summary" }, workers(d));
  view.replaceChildren(
    el("h1", {}, "Overview ", el("span", { class: "live", id: "live" }, "live")),
    el("div", { class: "panel" }, el("h2", {}, "Jobs by status"), countsBox),
    el("div", { class: "grid2" },
      el("div", { class: "panel" }, el("h2", {}, "Queues"), queuesBox),
      el("div", { class: "panel" }, el("h2", {}, "Workers"), workersBox)),
    el("div", { class: "panel", id: "timeline" }, el("h2", {}, "Throughput and failures"), c),
  );
  let pending = null;
  return {
    update(kind, data) {
      if (kind !== "counts") return;
      countsBox.replaceChildren(counts(data.jobs || {}));
      if (pending) return;
      pending = setTimeout(async () => {
        pending = null;
        const fresh = await api("GET", "/api/v1/dashboard").catch(() => null);
        if (!fresh) return;
        queuesBox.replaceChildren(queues(fresh));
        workersBox.replaceChildren(workers(fresh));
      }, 500);
    },
  };
}
