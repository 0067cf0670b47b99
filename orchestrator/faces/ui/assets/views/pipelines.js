// The coding pipelines: projects; a project's protocol runs; a run's steps, events and
// job runs (with their logs).

import { api } from "../api.js";
import { badge, el, table, when } from "../util.js";

async function projects() {
  const list = await api("GET", "/projects");
  return table(["id", "name", "repository", "base branch", "created"], list.map((p) => [
    el("a", { href: `#/pipelines/${p.id}` }, String(p.id)), p.name, el("span", { class: "mono" }, p.git_url), p.base_branch, when(p.created_at),
  ]), "No project yet.");
}

async function runsOf(projectId) {
  const runs = await api("GET", `/projects/${projectId}/protocols`);
  return table(["run", "protocol", "status", "branch", "created"], runs.map((r) => [
    el("a", { href: `#/pipelines/${projectId}/runs/${r.id}` }, String(r.id)), r.protocol_name, badge(r.status), r.base_branch, when(r.created_at),
  ]), "No protocol run yet.");
}

async function run(runId) {
  const [steps, events, jobs] = await Promise.all([
    api("GET", `/protocols/${runId}/steps`),
    api("GET", `/protocols/${runId}/events`),
    api("GET", `/protocols/${runId}/runs`).catch(() => []),
  ]);
  const jobRuns = Array.isArray(jobs) ? jobs : jobs.runs || [];
  return [
    el("h2", {}, "Steps"),
    table(["#", "step", "type", "status", "retries", "model"], steps.map((s) => [String(s.step_index), s.step_name, s.step_type, badge(s.status), String(s.retries), s.model || "–"]), "No step yet."),
    el("h2", {}, "Job runs"),
    table(["run", "job", "type", "status", "logs"], jobRuns.map((r) => [
      el("span", { class: "mono" }, r.run_id), el("a", { class: "mono", href: `#/jobs/${r.job_id}` }, r.job_id), r.job_type, badge(r.status),
      el("a", { href: `/codex/runs/${r.run_id}/logs`, target: "_blank" }, "logs"),
    ]), "No job run yet."),
    el("h2", {}, "Events"),
    table(["when", "event", "message"], events.map((e) => [when(e.created_at), e.event_type, e.message]), "No event yet."),
  ];
}

export async function render(main, [projectId, runId]) {
  const parts = [el("h1", {}, "Coding pipelines")];
  parts.push(el("div", { class: "panel", id: "projects" }, el("h2", {}, "Projects"), await projects()));
  if (projectId) parts.push(el("div", { class: "panel", id: "runs" }, el("h2", {}, `Project ${projectId}: protocol runs`), await runsOf(projectId)));
  if (runId) parts.push(el("div", { class: "panel", id: "run" }, el("h2", {}, `Protocol run ${runId}`), ...(await run(runId))));
  main.replaceChildren(...parts);
  return null;
}
