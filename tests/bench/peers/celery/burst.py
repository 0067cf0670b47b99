"""Burst: JOBS echo tasks sent as fast as possible (a `group` of BATCH tasks per
apply_async, SUBMITTERS threads) with no worker consuming the queue, then the worker
(started beforehand on another queue, so its start-up is not counted, and told to
consume this one with `add_consumer`) drains them. Completion is read from the result
backend every 20 ms (MGET of the result keys still missing, in submission order).
Prints one JSON line: submit_per_sec, drain_per_sec, end_to_end_seconds."""

import json
import threading
import time

from celery import group

from common import CeleryWorker, parse, run_threads, purge, queue_name

args = parse(
    __doc__,
    redis_url="redis://127.0.0.1:6379/0",
    jobs=20000,
    batch=500,
    submitters=4,
    concurrency=32,
    timeout=600.0,
)

from tasks import app, echo  # noqa: E402  (after REDIS_URL is set)

queue = queue_name("peers-burst")
idle_queue = queue + "-idle"
worker = CeleryWorker(app, idle_queue, args.concurrency)
ids = [None] * args.jobs


def submit():
    lock = threading.Lock()
    nxt = [0]

    def submitter():
        while True:
            with lock:
                first = nxt[0]
                nxt[0] += args.batch
            if first >= args.jobs:
                return
            n = min(args.batch, args.jobs - first)
            res = group(echo.s({"n": 1}) for _ in range(n)).apply_async(queue=queue)
            for i, r in enumerate(res.results):
                ids[first + i] = r.id

    run_threads(submitter, args.submitters)


def wait_all(deadline):
    client = app.backend.client
    key = app.backend.get_key_for_task
    pending = list(ids)
    while pending:
        done = 0
        while done < len(pending):
            chunk = pending[done : done + 1000]
            values = client.mget([key(i) for i in chunk])
            k = next((j for j, v in enumerate(values) if v is None), len(values))
            done += k
            if k < len(values):
                break
        pending = pending[done:]
        if not pending:
            return
        if time.perf_counter() > deadline:
            raise RuntimeError(f"drain stalled at {args.jobs - len(pending)}/{args.jobs}")
        time.sleep(0.02)


try:
    worker.wait_ready()
    start = time.perf_counter()
    submit()
    submitted = time.perf_counter() - start
    waiting = app.backend.client.llen(queue)
    if waiting != args.jobs:
        raise RuntimeError(f"expected {args.jobs} queued tasks, found {waiting}")
    drain_start = time.perf_counter()
    worker.add_consumer(queue)
    wait_all(drain_start + args.timeout)
    drained = time.perf_counter() - drain_start
    result = {
        "peer": "celery",
        "scenario": "burst",
        "jobs": args.jobs,
        "batch": args.batch,
        "worker_concurrency": args.concurrency,
        "submit_per_sec": round(args.jobs / submitted, 1),
        "drain_per_sec": round(args.jobs / drained, 1),
        "end_to_end_seconds": round(submitted + drained, 3),
    }
finally:
    worker.stop()
    purge(app, queue, idle_queue)
print(json.dumps(result), flush=True)
