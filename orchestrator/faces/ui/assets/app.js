// The dashboard: a login, then pages chosen by the URL's hash (#/jobs, #/jobs/<id>, ...).
// Each page module exports `render(view, params, session)`, draws into `view` (shown once
// it resolves) and may return `{job, update(kind, data)}`: the live stream (server-sent
// events of /api/v1/stream) then calls `update` when something moved.

import { session, login } from "./api.js";
import { el, toast } from "./util.js";
import * as overview from "./views/overview.js";
import * as jobs from "./views/jobs.js";
import * as job from "./views/job.js";
import * as workers from "./views/workers.js";
import * as blueprints from "./views/blueprints.js";
import * as pipelines from "./views/pipelines.js";
import * as workflows from "./views/workflows.js";

const main = document.getElementById("main");

/** Route table: hash pattern → page module and nav entry. */
const ROUTES = [
  [/^#?\/?$/, overview, "overview"],
  [/^#\/jobs(?:\?.*)?$/, jobs, "jobs"],
  [/^#\/jobs\/([^/?]+)$/, job, "jobs"],
  [/^#\/workers$/, workers, "workers"],
  [/^#\/blueprints(?:\/([^/]+))?$/, blueprints, "blueprints"],
  [/^#\/pipelines(?:\/(\d+))?(?:\/runs\/(\d+))?$/, pipelines, "pipelines"],
  [/^#\/workflows(?:\/([a-z]+))?(?:\/([^/]+))?$/, workflows, "workflows"],
];

/** The live stream of the current page: `counts` for all pages, `job` for a job's. */
let stream = null;
function stopLive() {
  if (stream) stream.close();
  stream = null;
  document.body.dataset.live = "off";
}

function follow(jobId, onEvent) {
  stopLive();
  const s = session.load();
  const q = new URLSearchParams({ token: s.token });
  if (jobId) q.set("job", jobId);
  const es = new EventSource(`/api/v1/stream?${q}`);
  stream = es;
  es.onopen = () => (document.body.dataset.live = "on");
  es.onerror = () => (document.body.dataset.live = "off"); // EventSource reconnects itself
  for (const kind of ["counts", "job"]) {
    es.addEventListener(kind, (e) => {
      if (stream !== es) return; // a page we left
      try {
        onEvent(kind, JSON.parse(e.data));
      } catch (err) {
        console.warn("live update", err);
      }
    });
  }
}

function loginPage(error) {
  stopLive();
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  for (const a of document.querySelectorAll("#nav a[data-page]")) a.classList.remove("active");
  const token = el("input", { id: "login-token", name: "token", type: "password", placeholder: "dev-admin-token", autocomplete: "off", required: true });
  const user = el("input", { id: "login-user", name: "user", placeholder: "admin (optional)", autocomplete: "username" });
  const password = el("input", { id: "login-password", name: "password", type: "password", placeholder: "demo", autocomplete: "current-password" });
  const message = el("p", { class: "err", id: "login-error", role: "alert" }, error || "");
  const submit = el("button", { type: "submit", id: "login-submit" }, "Log in");
  const form = el(
    "form",
    { class: "panel login", id: "login" },
    el("h1", {}, "Log in to Baton"),
    el("p", { class: "muted" }, "A client token shows that client's jobs; the admin token (BATON_ADMIN_TOKEN) every client's. A workflow login adds the workflow pages."),
    el("label", { for: "login-token" }, "Client or admin token"),
    token,
    el("details", {},
      el("summary", {}, "Workflow login (optional)"),
      el("label", { for: "login-user" }, "User"),
      user,
      el("label", { for: "login-password" }, "Password"),
      password),
    message,
    submit,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    message.textContent = "";
    try {
      await login(token.value.trim(), user.value.trim(), password.value);
      route();
    } catch (err) {
      message.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  token.focus();
}

/** Each navigation's number: a page that finishes loading after the next began is dropped. */
let generation = 0;

async function route() {
  const s = session.load();
  if (!s || !s.token) return loginPage();
  const mine = ++generation;
  stopLive();
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${s.admin ? "admin" : "client token"}${s.user ? ` · ${s.user}` : ""}`;
  const hash = location.hash || "#/";
  for (const [pattern, page, nav] of ROUTES) {
    const m = hash.match(pattern);
    if (!m) continue;
    for (const a of document.querySelectorAll("#nav a[data-page]")) a.classList.toggle("active", a.dataset.page === nav);
    main.setAttribute("aria-busy", "true");
    const view = el("div", { class: "page", "data-page": nav });
    try {
      const live = await page.render(view, m.slice(1), s);
      if (mine !== generation) return;
      main.replaceChildren(view);
      // When the page first showed its data (read by the browser test).
      performance.mark("baton:rendered", { detail: hash });
      follow(live?.job || null, (kind, data) => live?.update?.(kind, data));
    } catch (err) {
      if (mine !== generation) return;
      if (err.status === 401) {
        session.clear();
        return loginPage("The token was refused: log in again.");
      }
      main.replaceChildren(el("div", { class: "panel" }, el("p", { class: "err" }, `Could not load this page: ${err.message}`)));
    } finally {
      if (mine === generation) main.removeAttribute("aria-busy");
    }
    return;
  }
  main.replaceChildren(el("p", {}, "No such page. ", el("a", { href: "#/" }, "Overview")));
}

document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  history.replaceState(null, "", "#/");
  loginPage();
});
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => toast(String(e.reason?.message || e.reason), true));
route();
