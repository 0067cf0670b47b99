// Workflow management (needs the workflow login): executions (one opens with its steps
// and log), schedules with their next run and history, inbound webhooks with theirs.

import { wf } from "../api.js";
import { badge, el, table, when } from "../util.js";

const TABS = [["executions", "Executions"], ["schedules", "Schedules"], ["webhooks", "Webhooks"]];

async function executions() {
  const page = await wf("GET", "/v1/executions?page_size=50");
  return table(["execution", "workflow", "status", "progress", "started", "ended"], page.data.map((e) => [
    el("a", { class: "mono", href: `#/workflows/execution/${e.id}` }, e.id), e.workflow_id, badge(e.status), `${e.progress}%`, when(e.started_at), when(e.completed_at),
  ]), "No execution yet.");
}

async function execution(id) {
  const e = await wf("GET", `/v1/executions/${id}`);
  return [
    el("p", {}, `Workflow ${e.workflow_id} · `, badge(e.status), ` · ${e.progress}% · job `, el("a", { class: "mono", href: `#/jobs/${e.id}` }, e.id)),
    table(["step", "status", "duration", "tokens", "error"], e.steps.map((s) => [s.step_id, badge(s.status), s.duration_ms === null ? "–" : `${s.duration_ms} ms`, String(s.tokens_used), s.error || ""])),
    el("h2", {}, "Log"),
    table(["when", "level", "message"], e.logs.map((l) => [when(l.timestamp), badge(l.level), l.message])),
  ];
}

async function schedules(detail) {
  const list = await wf("GET", "/v1/schedules");
  const parts = [table(["schedule", "workflow", "type", "status", "next run", "last run", "runs"], list.map((s) => [
    el("a", { href: `#/workflows/schedules/${s.id}` }, s.id), s.workflow_id, s.schedule_type, badge(s.status), when(s.next_run), when(s.last_run), String(s.run_count),
  ]), "No schedule yet.")];
  if (detail) {
    const rows = await wf("GET", `/v1/schedules/${detail}/history?limit=50`);
    parts.push(el("h2", {}, `History of ${detail}`), table(["executed", "for", "trigger", "status", "duration", "error"], rows.map((r) => [
      when(r.executed_at), when(r.scheduled_for), r.trigger, badge(r.status), r.duration_seconds === null ? "–" : `${r.duration_seconds} s`, r.error || "",
    ])));
  }
  return parts;
}

async function webhooks(detail) {
  const list = await wf("GET", "/v1/webhooks");
  const parts = [table(["webhook", "workflow", "status", "deliveries", "last"], list.map((h) => [
    el("a", { href: `#/workflows/webhooks/${h.id}` }, h.id), h.workflow_id, badge(h.status), String(h.trigger_count), when(h.last_triggered),
  ]), "No webhook yet.")];
  if (detail) {
    const rows = await wf("GET", `/v1/webhooks/${detail}/history?limit=50`);
    parts.push(el("h2", {}, `Deliveries of ${detail}`), table(["when", "from", "bytes", "status", "duration", "error"], rows.map((r) => [
      when(r.triggered_at), r.source_ip, String(r.payload_size), badge(r.status), r.duration_seconds === null ? "–" : `${r.duration_seconds} s`, r.error || "",
    ])));
  }
  return parts;
}

export async function render(main, [tab = "executions", id], s) {
  const nav = el("div", { class: "actions" }, TABS.map(([k, label]) => el("a", { href: `#/workflows/${k}` }, el("button", { type: "button", class: k === tab ? "" : "secondary" }, label))));
  if (!s.bearer) {
    main.replaceChildren(el("h1", {}, "Workflows"), el("p", { class: "muted" }, "Log out and log in again with a workflow user (in `baton dev`: any user, password `demo`) to see executions, schedules and webhooks."));
    return null;
  }
  let body;
  if (tab === "execution") body = await execution(id);
  else if (tab === "schedules") body = await schedules(id);
  else if (tab === "webhooks") body = await webhooks(id);
  else body = await executions();
  main.replaceChildren(el("h1", {}, "Workflows"), nav, el("div", { class: "panel", id: "workflows" }, body));
  return null;
}
