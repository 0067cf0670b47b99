// Jobs: the job index with filters (status, blueprint, client for the admin, time range,
// text in the id) and pages (a cursor per page; "Newer" goes back). The list refreshes
// when job counts move.

import { api } from "../api.js";
import { badge, el, table, when } from "../util.js";

const STATUSES = ["", "pending", "running", "waiting_for_human", "waiting_for_parallel_tasks", "waiting_for_sub_job", "awaiting_retry", "paused", "finished", "failed", "quarantined", "cancelled"];

function filtersFromHash() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  return Object.fromEntries([...q.entries()].filter(([, v]) => v));
}

function iso(localValue) {
  if (!localValue) return "";
  const d = new Date(localValue);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export async function render(main, _params, s) {
  const state = { filters: filtersFromHash(), cursors: [null] };
  const blueprints = await api("GET", "/api/v1/blueprints").catch(() => []);
  const field = (name, input) => el("label", {}, name, input);
  const status = el("select", { name: "status", id: "f-status" }, STATUSES.map((x) => el("option", { value: x, selected: state.filters.status === x }, x || "any")));
  const blueprint = el("select", { name: "blueprint", id: "f-blueprint" }, el("option", { value: "" }, "any"), blueprints.map((b) => el("option", { value: b.name, selected: state.filters.blueprint === b.name }, b.name)));
  const client = el("input", { name: "client", id: "f-client", placeholder: "any", value: state.filters.client || "", disabled: !s.admin });
  const from = el("input", { name: "from", id: "f-from", type: "datetime-local" });
  const to = el("input", { name: "to", id: "f-to", type: "datetime-local" });
  const text = el("input", { name: "q", id: "f-q", placeholder: "part of the id", value: state.filters.q || "" });
  const form = el("form", { class: "filters", id: "filters" },
    field("status", status), field("blueprint", blueprint), field("client", client), field("from", from), field("to", to), field("id", text),
    el("button", { type: "submit" }, "Filter"));
  const list = el("div", { id: "job-list" });
  const pager = el("div", { class: "pager" });
  main.replaceChildren(el("h1", {}, "Jobs ", el("span", { class: "live" }, "● live")), form, el("div", { class: "panel" }, list, pager));

  async function load() {
    const q = new URLSearchParams({ limit: "50", ...state.filters });
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) q.set("cursor", cursor);
    const page = await api("GET", `/api/v1/jobs?${q}`);
    const rows = page.jobs.map((j) => [
      el("a", { class: "mono job-link", href: `#/jobs/${j.id}` }, j.id),
      badge(j.status),
      j.blueprint_name,
      j.client,
      when(j.created_at),
      when(j.updated_at),
    ]);
    list.replaceChildren(table(["id", "status", "blueprint", "client", "created", "updated"], rows, "No job matches."));
    const newer = el("button", { class: "secondary", type: "button", disabled: state.cursors.length < 2, onclick: () => { state.cursors.pop(); load(); } }, "← Newer");
    const older = el("button", { class: "secondary", type: "button", id: "older", disabled: !page.next_cursor, onclick: () => { state.cursors.push(page.next_cursor); load(); } }, "Older →");
    pager.replaceChildren(newer, older, el("span", { class: "muted" }, `page ${state.cursors.length}`));
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const f = { status: status.value, blueprint: blueprint.value, client: client.value.trim(), from: iso(from.value), to: iso(to.value), q: text.value.trim() };
    state.filters = Object.fromEntries(Object.entries(f).filter(([, v]) => v));
    state.cursors = [null];
    history.replaceState(null, "", `#/jobs?${new URLSearchParams(state.filters)}`);
    load();
  });
  await load();
  let pending = null;
  return {
    update(kind) {
      // Counts moved: the first page may have changed (later pages stay where they are).
      if (kind !== "counts" || state.cursors.length > 1 || pending) return;
      pending = setTimeout(() => { pending = null; load(); }, 300);
    },
  };
}
