// Shared helpers of the BullMQ benchmark scripts: arguments, connection, percentiles.
import { randomBytes } from 'node:crypto';

/** `--name value` arguments over environment variables over defaults. */
export function options(defaults) {
  const out = { ...defaults };
  for (const [key, value] of Object.entries(defaults)) {
    const env = process.env[key.toUpperCase()];
    if (env !== undefined && env !== '') out[key] = typeof value === 'number' ? Number(env) : env;
  }
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unexpected argument ${argv[i]}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option --${m[1]}`);
    const raw = m[2] !== undefined ? m[2] : argv[++i];
    out[key] = typeof defaults[key] === 'number' ? Number(raw) : raw;
  }
  return out;
}

/** ioredis options for a redis:// URL (BullMQ wants maxRetriesPerRequest: null on workers). */
export function connection(url) {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
}

export function queueName(prefix) {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Nearest-rank percentile of sorted numbers (same rule as baton-bench's summarize). */
export function percentile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(Math.max(Math.ceil(sorted.length * q), 1), sorted.length) - 1;
  return sorted[idx];
}

export const round = (x, digits = 2) => Number(x.toFixed(digits));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
