// The echo worker, in its own process: returns the job's input.
// Prints "ready" once connected; with --paused 1 it waits for a line "go" on stdin
// before taking jobs (the burst starts it before submitting, so process start-up is not
// counted in the drain). Exits on SIGTERM/SIGINT or when stdin closes.
import { Worker } from 'bullmq';
import { createInterface } from 'node:readline';
import { connection, options } from './common.mjs';

const opt = options({ redisUrl: 'redis://127.0.0.1:6379', queue: '', concurrency: 64, paused: 0 });
if (!opt.queue) throw new Error('--queue is required');

const worker = new Worker(opt.queue, async (job) => job.data, {
  connection: connection(opt.redisUrl),
  concurrency: opt.concurrency,
  autorun: !opt.paused,
  // BullMQ's defaults otherwise: completed jobs are kept (no removeOnComplete), as
  // Baton keeps finished jobs.
});
worker.on('error', (err) => console.error('worker error:', err));

let closing = false;
async function stop() {
  if (closing) return;
  closing = true;
  await worker.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await worker.waitUntilReady();
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === 'go' && opt.paused) worker.run().catch((err) => console.error(err));
});
lines.on('close', stop);
