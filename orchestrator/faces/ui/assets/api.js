// The APIs the dashboard reads, with the session's tokens: the client or admin token
// (`X-Client-Token`) for the worker-pull runtime and the coding pipelines, and the
// workflow face's login (`Authorization: Bearer`) for /v1.

const KEY = "baton.session";

export const session = {
  load() {
    try {
      return JSON.parse(sessionStorage.getItem(KEY)) || null;
    } catch {
      return null;
    }
  },
  save(s) {
    sessionStorage.setItem(KEY, JSON.stringify(s));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** An API error: its status and the message the server sent. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function messageOf(body, status) {
  if (!body) return `HTTP ${status}`;
  if (typeof body === "string") return body;
  if (body.error && typeof body.error === "object") return body.error.message || JSON.stringify(body.error);
  return body.error || body.message || body.detail || JSON.stringify(body);
}

async function call(method, path, body, headers) {
  const opts = { method, headers: { ...headers } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const text = await resp.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: kept as text */
  }
  if (!resp.ok) throw new ApiError(resp.status, messageOf(parsed, resp.status));
  return parsed;
}

/** The runtime and pipelines APIs, with the client token. */
export function api(method, path, body) {
  const s = session.load() || {};
  const headers = { "X-Client-Token": s.token || "" };
  if (s.pipelinesToken) headers.Authorization = `Bearer ${s.pipelinesToken}`;
  return call(method, path, body, headers);
}

/** The workflow face, with its login token. */
export function wf(method, path, body) {
  const s = session.load() || {};
  return call(method, path, body, { Authorization: `Bearer ${s.bearer || ""}` });
}

/** Logs in: checks the client token; logs in to the workflow face too when asked. */
export async function login(token, user, password) {
  const probe = await fetch("/api/v1/dashboard", { headers: { "X-Client-Token": token } });
  if (probe.status === 401 || probe.status === 403) throw new ApiError(probe.status, "This token is not a client or admin token of this orchestrator.");
  const timeline = await fetch("/api/v1/stats/timeline?minutes=1", { headers: { "X-Client-Token": token } });
  const s = { token, admin: timeline.ok, bearer: null, user: null };
  if (user) {
    const r = await call("POST", "/v1/auth/login", { user_id: user, password });
    s.bearer = r.access_token;
    s.user = user;
  }
  session.save(s);
  return s;
}
