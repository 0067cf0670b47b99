// Overview: jobs by status, the last hour's throughput and failures, queues (backlog and
// oldest waiting task per skill) and workers online.

import { api } from "../api.js";
import { drawTimeline } from "../chart.js";
import { el, table } from "../util.js";

const ORDER = ["pending", "running", "waiting_for_human", "waiting_for_parallel_tasks", "waiting_for_sub_job", "awaiting_retry", "paused", "finished", "failed", "quarantined", "cancelled"];

function counts(jobs) {
  const names = [...ORDER.filter((s) => s in jobs), ...Object.keys(jobs).filter((s) => !ORDER.includes(s))];
  if (!names.length) return el("p", { class: "muted" }, "No jobs yet.");
  return el(
    "div",
    { class: "cards", id: "counts" },
    names.map((s) =>
      el("a", { class: "card", href: `#/jobs?status=${s}`, "data-status": s, onclick: () => sessionStorage.setItem("baton.jobs.status", s) },
        el("div", { class: "n" }, String(jobs[s])),
        el("div", { class: "l" }, s)),
    ),
  );
}

async function chart(s) {
  if (!s.admin) return el("p", { class: "muted" }, "The throughput chart counts every client's jobs: log in with the admin token to see it.");
  const t = await api("GET", "/api/v1/stats/timeline?minutes=60&bucket_seconds=60");
  const total = (k) => t.buckets.reduce((n, b) => n + b[k], 0);
  return el("div", {},
    el("p", { class: "muted" }, `Last hour: ${total("created")} created, ${total("finished")} finished, ${total("failed")} failed (per minute; bars: finished green, failed red; line: created).`),
    drawTimeline(t.buckets));
}

export async function render(main, _params, s) {
  const [d, c] = await Promise.all([api("GET", "/api/v1/dashboard"), chart(s)]);
  const queues = Object.entries(d.queues || {}).map(([skill, q]) => [
    el("span", { class: "mono" }, skill),
    String(q.depth),
    q.oldest_task_age_seconds === null ? "–" : `${q.oldest_task_age_seconds.toFixed(1)} s`,
  ]);
  const countsBox = el("div", {}, counts(d.jobs || {}));
  main.replaceChildren(
    el("h1", {}, "Overview ", el("span", { class: "live", id: "live" }, "● live")),
    el("div", { class: "panel" }, el("h2", {}, "Jobs by status"), countsBox),
    el("div", { class: "panel" }, el("h2", {}, "Throughput and failures"), c),
    el("div", { class: "grid2" },
      el("div", { class: "panel" }, el("h2", {}, "Queues"), table(["skill", "waiting", "oldest waits"], queues, "No queue has tasks.")),
      el("div", { class: "panel" }, el("h2", {}, "Workers"),
        el("div", { class: "cards" },
          el("a", { class: "card", href: "#/workers" }, el("div", { class: "n", id: "workers-online" }, String(d.workers.total)), el("div", { class: "l" }, "online")),
          ...Object.entries(d.workers.by_status || {}).map(([k, n]) => el("div", { class: "card" }, el("div", { class: "n" }, String(n)), el("div", { class: "l" }, k)))))),
  );
  return {
    update(kind, data) {
      if (kind === "counts") countsBox.replaceChildren(counts(data.jobs || {}));
    },
  };
}
