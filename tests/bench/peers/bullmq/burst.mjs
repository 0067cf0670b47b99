// Burst: JOBS echo jobs added as fast as possible (queue.addBulk in chunks of BATCH,
// SUBMITTERS chunks in flight) with no worker taking jobs, then the worker (a second
// process, started beforehand but paused, so its start-up is not counted) drains them.
// Completion is polled every 20 ms, as baton-bench polls its dashboard.
// Prints one JSON line: submit_per_sec, drain_per_sec, end_to_end_seconds.
import { Queue } from 'bullmq';
import { connection, options, queueName, round, sleep } from './common.mjs';
import { startWorker } from './spawn_worker.mjs';

const opt = options({
  redisUrl: 'redis://127.0.0.1:6379',
  jobs: 20000,
  batch: 500,
  submitters: 20,
  concurrency: 64,
});
const name = queueName('peers-burst');
const queue = new Queue(name, { connection: connection(opt.redisUrl) });
queue.setMaxListeners(opt.submitters + 10); // concurrent addBulk calls each listen for 'closing'
await queue.waitUntilReady();
const worker = startWorker([
  '--redis-url', opt.redisUrl, '--queue', name, '--concurrency', String(opt.concurrency), '--paused', '1',
]);
await worker.ready;

let result;
try {
  let next = 0;
  const start = process.hrtime.bigint();
  async function submitter() {
    for (;;) {
      const first = next;
      next += opt.batch;
      if (first >= opt.jobs) return;
      const n = Math.min(opt.batch, opt.jobs - first);
      await queue.addBulk(Array.from({ length: n }, () => ({ name: 'echo', data: { n: 1 } })));
    }
  }
  await Promise.all(Array.from({ length: opt.submitters }, submitter));
  const submitted = Number(process.hrtime.bigint() - start) / 1e9;
  const waiting = await queue.getWaitingCount();
  if (waiting !== opt.jobs) throw new Error(`expected ${opt.jobs} waiting jobs, found ${waiting}`);

  const drainStart = process.hrtime.bigint();
  worker.go();
  for (;;) {
    const { completed, failed } = await queue.getJobCounts('completed', 'failed');
    if (failed > 0) throw new Error(`${failed} jobs failed`);
    if (completed >= opt.jobs) break;
    if (Number(process.hrtime.bigint() - drainStart) / 1e9 > 600) throw new Error(`drain stalled at ${completed}/${opt.jobs}`);
    await sleep(20);
  }
  const drained = Number(process.hrtime.bigint() - drainStart) / 1e9;
  result = {
    peer: 'bullmq',
    scenario: 'burst',
    jobs: opt.jobs,
    batch: opt.batch,
    worker_concurrency: opt.concurrency,
    submit_per_sec: round(opt.jobs / submitted, 1),
    drain_per_sec: round(opt.jobs / drained, 1),
    end_to_end_seconds: round(submitted + drained, 3),
  };
} finally {
  await worker.stop();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
}
console.log(JSON.stringify(result));
