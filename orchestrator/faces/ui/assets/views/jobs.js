// Jobs: the job index with filters (status, blueprint, client for the admin, time range,
// text in the id) kept in the URL, and pages (a cursor per page; "Newer" goes back). The
// first page refreshes when job counts move.

import { api } from "../api.js";
import { badge, el, table, when } from "../util.js";

const STATUSES = ["pending", "running", "waiting_for_human", "waiting_for_parallel_tasks", "waiting_for_sub_job", "awaiting_retry", "paused", "finished", "failed", "quarantined", "cancelled"];
const PAGE = 50;

function filtersFromHash() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  return Object.fromEntries([...q.entries()].filter(([, v]) => v));
}

/** RFC 3339 from a `datetime-local` value (local time), and back. */
function iso(local) {
  const d = local ? new Date(local) : null;
  return d && !Number.isNaN(d.getTime()) ? d.toISOString() : "";
}
function local(isoValue) {
  const d = isoValue ? new Date(isoValue) : null;
  if (!d || Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

export async function render(view, _params, s) {
  const state = { filters: filtersFromHash(), cursors: [null] };
  const blueprints = await api("GET", "/api/v1/blueprints").catch(() => []);
  const f = state.filters;
  const field = (name, input) => el("label", {}, name, input);
  const status = el("select", { name: "status", id: "f-status" }, el("option", { value: "" }, "any"), STATUSES.map((x) => el("option", { value: x, selected: f.status === x }, x.replaceAll("_", " "))));
  const blueprint = el("select", { name: "blueprint", id: "f-blueprint" }, el("option", { value: "" }, "any"), blueprints.map((b) => el("option", { value: b.name, selected: f.blueprint === b.name }, b.name)));
  const client = el("input", { name: "client", id: "f-client", placeholder: s.admin ? "any" : "yours", value: f.client || "", disabled: !s.admin, title: s.admin ? "" : "Only the admin token lists other clients' jobs" });
  const from = el("input", { name: "from", id: "f-from", type: "datetime-local", value: local(f.from) });
  const to = el("input", { name: "to", id: "f-to", type: "datetime-local", value: local(f.to) });
  const text = el("input", { name: "q", id: "f-q", type: "search", placeholder: "part of the id", value: f.q || "" });
  const form = el("form", { class: "filters", id: "filters" },
    field("Status", status), field("Blueprint", blueprint), field("Client", client), field("Created from", from), field("Created to", to), field("Job id", text),
    el("button", { type: "submit" }, "Filter"),
    el("button", { type: "button", class: "secondary", id: "f-clear", onclick: () => {
      for (const input of [status, blueprint, client, from, to, text]) if (!input.disabled) input.value = "";
      apply();
    } }, "Clear"));
  const list = el("div", { id: "job-list" });
  const pager = el("div", { class: "pager" });
  view.replaceChildren(
    el("h1", {}, "Jobs ", el("span", { class: "live" }, "live")),
    el("div", { class: "panel" }, form, list, pager));

  let seq = 0;
  async function load() {
    const mine = ++seq;
    // Rare filters give short pages (each request looks at a bounded part of the
    // index): follow the cursor, a few requests at most, until the page is full.
    const page = { jobs: [], next_cursor: state.cursors[state.cursors.length - 1] };
    for (let request = 0; request < 8; request++) {
      const q = new URLSearchParams({ limit: String(PAGE - page.jobs.length), ...state.filters });
      if (page.next_cursor) q.set("cursor", page.next_cursor);
      const part = await api("GET", `/api/v1/jobs?${q}`);
      if (mine !== seq) return; // the filters changed while this page was on its way
      page.jobs.push(...part.jobs);
      page.next_cursor = part.next_cursor;
      if (!page.next_cursor || page.jobs.length >= PAGE) break;
    }
    const rows = page.jobs.map((j) => [
      el("a", { class: "mono job-link", href: `#/jobs/${encodeURIComponent(j.id)}` }, j.id),
      badge(j.status),
      j.blueprint_name,
      j.client,
      when(j.created_at),
      when(j.updated_at),
    ]);
    list.replaceChildren(table(["Job", "Status", "Blueprint", "Client", "Created", "Updated"], rows, "No job matches."));
    const newer = el("button", { class: "secondary", type: "button", disabled: state.cursors.length < 2, onclick: () => { state.cursors.pop(); load(); } }, "← Newer");
    const older = el("button", { class: "secondary", type: "button", id: "older", disabled: !page.next_cursor, onclick: () => { state.cursors.push(page.next_cursor); load(); } }, "Older →");
    const first = (state.cursors.length - 1) * PAGE;
    const shown = rows.length ? `${first + 1}–${first + rows.length}` : "none";
    pager.replaceChildren(newer, older, el("span", { class: "muted" }, `Jobs ${shown}${Object.keys(state.filters).length ? " (filtered)" : ""}, newest first`));
  }

  function apply() {
    const wanted = { status: status.value, blueprint: blueprint.value, client: client.value.trim(), from: iso(from.value), to: iso(to.value), q: text.value.trim() };
    state.filters = Object.fromEntries(Object.entries(wanted).filter(([, v]) => v));
    state.cursors = [null];
    const q = new URLSearchParams(state.filters).toString();
    // The URL keeps the filters (shareable, kept on reload) without a new navigation.
    history.replaceState(null, "", q ? `#/jobs?${q}` : "#/jobs");
    return load();
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  await load();
  let pending = null;
  return {
    update(kind) {
      // Counts moved: the first page may have changed (later pages stay where they are).
      if (kind !== "counts" || state.cursors.length > 1 || pending) return;
      pending = setTimeout(() => { pending = null; load(); }, 250);
    },
  };
}
