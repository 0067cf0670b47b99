// The dashboard: a login, then pages chosen by the URL's hash (#/jobs, #/jobs/<id>, ...).
// Each page module exports `render(main, params, live)` and redraws itself when the live
// stream (server-sent events of /api/v1/stream) says something moved.

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
function follow(jobId, onEvent) {
  if (stream) stream.close();
  const s = session.load();
  const q = new URLSearchParams({ token: s.token });
  if (jobId) q.set("job", jobId);
  stream = new EventSource(`/api/v1/stream?${q}`);
  for (const kind of ["counts", "job"]) {
    stream.addEventListener(kind, (e) => {
      try {
        onEvent(kind, JSON.parse(e.data));
      } catch (err) {
        console.warn("live update", err);
      }
    });
  }
}

function loginPage(error) {
  if (stream) stream.close();
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  const token = el("input", { id: "login-token", type: "password", placeholder: "dev-admin-token", autocomplete: "off" });
  const user = el("input", { id: "login-user", placeholder: "admin (optional)" });
  const password = el("input", { id: "login-password", type: "password", placeholder: "demo" });
  const message = el("p", { class: "err", id: "login-error" }, error || "");
  const form = el(
    "form",
    { class: "panel login", id: "login" },
    el("h1", {}, "Log in to Baton"),
    el("p", { class: "muted" }, "A client token shows that client's jobs; the admin token (BATON_ADMIN_TOKEN) every client's. A workflow login adds the workflow pages."),
    el("label", { for: "login-token" }, "Client or admin token"),
    token,
    el("label", { for: "login-user" }, "Workflow login: user"),
    user,
    el("label", { for: "login-password" }, "Workflow login: password"),
    password,
    message,
    el("button", { type: "submit", id: "login-submit" }, "Log in"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await login(token.value.trim(), user.value.trim(), password.value);
      route();
    } catch (err) {
      message.textContent = err.message;
    }
  });
  main.replaceChildren(form);
  token.focus();
}

async function route() {
  const s = session.load();
  if (!s || !s.token) return loginPage();
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${s.admin ? "admin" : "client token"}${s.user ? ` · ${s.user}` : ""}`;
  const hash = location.hash || "#/";
  for (const [pattern, page, nav] of ROUTES) {
    const m = hash.match(pattern);
    if (!m) continue;
    for (const a of document.querySelectorAll("#nav a[data-page]")) a.classList.toggle("active", a.dataset.page === nav);
    const started = performance.now();
    try {
      const live = await page.render(main, m.slice(1), s);
      follow(live?.job || null, (kind, data) => live?.update?.(kind, data));
      document.body.dataset.renderedMs = String(Math.round(performance.now() - started));
    } catch (err) {
      if (err.status === 401) {
        session.clear();
        return loginPage("The token was refused: log in again.");
      }
      main.replaceChildren(el("p", { class: "err" }, `Could not load this page: ${err.message}`));
    }
    return;
  }
  main.replaceChildren(el("p", {}, "No such page. ", el("a", { href: "#/" }, "Overview")));
}

document.getElementById("logout").addEventListener("click", () => {
  session.clear();
  location.hash = "#/";
  loginPage();
});
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (e) => toast(String(e.reason?.message || e.reason), true));
route();
