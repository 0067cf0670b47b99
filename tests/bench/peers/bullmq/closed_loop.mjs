// Closed loop: CLIENTS concurrent clients each add an echo job, wait for its completion
// (QueueEvents, through job.waitUntilFinished), add the next. The Worker runs in a
// second process (worker.mjs). A warm-up of a tenth of the jobs (at least 100) first.
// Prints one JSON line: jobs_per_sec, p50_ms, p99_ms (submit -> completed seen by the client).
import { Queue, QueueEvents } from 'bullmq';
import { connection, options, percentile, queueName, round } from './common.mjs';
import { startWorker } from './spawn_worker.mjs';

const opt = options({ redisUrl: 'redis://127.0.0.1:6379', jobs: 20000, clients: 20, concurrency: 64 });
const name = queueName('peers-cl');
const conn = connection(opt.redisUrl);
const queue = new Queue(name, { connection: conn });
const events = new QueueEvents(name, { connection: conn });
queue.setMaxListeners(opt.clients + 10);
events.setMaxListeners(opt.clients + 10); // one pending waitUntilFinished per client
await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
const worker = startWorker(['--redis-url', opt.redisUrl, '--queue', name, '--concurrency', String(opt.concurrency)]);
await worker.ready;

async function drive(count, samples) {
  let next = 0;
  async function client() {
    while (next++ < count) {
      const t0 = process.hrtime.bigint();
      const job = await queue.add('echo', { n: 1 });
      const out = await job.waitUntilFinished(events, 60_000);
      if (!out || out.n !== 1) throw new Error(`job ${job.id} returned ${JSON.stringify(out)}`);
      if (samples) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  await Promise.all(Array.from({ length: opt.clients }, client));
}

let result;
try {
  await drive(Math.max(Math.floor(opt.jobs / 10), 100), null);
  const samples = [];
  const start = process.hrtime.bigint();
  await drive(opt.jobs, samples);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  samples.sort((a, b) => a - b);
  result = {
    peer: 'bullmq',
    scenario: 'closed_loop',
    clients: opt.clients,
    jobs: opt.jobs,
    worker_concurrency: opt.concurrency,
    seconds: round(seconds, 3),
    jobs_per_sec: round(opt.jobs / seconds, 1),
    p50_ms: round(percentile(samples, 0.5), 3),
    p99_ms: round(percentile(samples, 0.99), 3),
  };
} finally {
  await worker.stop();
  await events.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
}
console.log(JSON.stringify(result));
