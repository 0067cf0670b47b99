"""Closed loop: CLIENTS threads each send an echo task (`.delay()`), wait for its result
(`AsyncResult.get()`), send the next. The worker is `celery worker --pool threads` in
its own process. A warm-up of a tenth of the jobs (at least 100) first. Prints one JSON
line: jobs_per_sec, p50_ms, p99_ms (submit -> result seen by the client)."""

import json
import threading
import time

from common import CeleryWorker, parse, run_threads, percentile, purge, queue_name

args = parse(__doc__, redis_url="redis://127.0.0.1:6379/0", jobs=20000, clients=20, concurrency=32)

from tasks import app, echo  # noqa: E402  (after REDIS_URL is set)

queue = queue_name("peers-cl")
worker = CeleryWorker(app, queue, args.concurrency)


def drive(count, samples):
    lock = threading.Lock()
    left = [count]

    def client():
        while True:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            t0 = time.perf_counter()
            res = echo.apply_async(({"n": 1},), queue=queue)
            out = res.get(timeout=60)
            if out != {"n": 1}:
                raise RuntimeError(f"task {res.id} returned {out!r}")
            if samples is not None:
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    samples.append(elapsed)

    run_threads(client, args.clients)


try:
    worker.wait_ready()
    drive(max(args.jobs // 10, 100), None)
    samples = []
    start = time.perf_counter()
    drive(args.jobs, samples)
    seconds = time.perf_counter() - start
    samples.sort()
    result = {
        "peer": "celery",
        "scenario": "closed_loop",
        "clients": args.clients,
        "jobs": args.jobs,
        "worker_concurrency": args.concurrency,
        "seconds": round(seconds, 3),
        "jobs_per_sec": round(args.jobs / seconds, 1),
        "p50_ms": round(percentile(samples, 0.5), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
    }
finally:
    worker.stop()
    purge(app, queue)
print(json.dumps(result), flush=True)
