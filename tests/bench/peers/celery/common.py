"""Shared helpers of the Celery benchmark scripts: options, the worker subprocess,
percentiles."""

import argparse
import math
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse(description, **defaults):
    """`--name value` over environment variables (NAME) over defaults."""
    p = argparse.ArgumentParser(description=description)
    for key, value in defaults.items():
        env = os.environ.get(key.upper())
        if env:
            value = type(value)(env)
        p.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)
    args = p.parse_args()
    # tasks.py reads REDIS_URL when imported, in this process and in the worker.
    os.environ["REDIS_URL"] = args.redis_url
    return args


def run_threads(target, n):
    """Runs `target` in `n` threads to their end; raises the first error one of them met."""
    errors = []

    def guarded():
        try:
            target()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=guarded) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def queue_name(prefix):
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"


def percentile(sorted_values, q):
    """Nearest rank, the rule baton-bench uses."""
    if not sorted_values:
        return math.nan
    idx = min(max(math.ceil(len(sorted_values) * q), 1), len(sorted_values)) - 1
    return sorted_values[idx]


class CeleryWorker:
    """`celery worker --pool threads` as a subprocess consuming `queue`."""

    def __init__(self, app, queue, concurrency):
        self.app = app
        self.node = f"peers-{os.getpid()}-{secrets.token_hex(3)}@localhost"
        env = dict(
            os.environ,
            PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""),
            # A benchmark box often runs as root: not worth a warning on every run.
            PYTHONWARNINGS="ignore:You're running the worker with superuser privileges",
        )
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "tasks", "worker",
                "--pool", "threads", "--concurrency", str(concurrency),
                "-Q", queue, "-n", self.node,
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "WARNING",
            ],
            cwd=HERE,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sys.stderr,
        )

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited early ({self.proc.returncode})")
            if self.app.control.ping(destination=[self.node], timeout=0.5):
                return
        raise RuntimeError("celery worker did not answer a ping")

    def add_consumer(self, queue):
        replies = self.app.control.add_consumer(queue, destination=[self.node], reply=True, timeout=5)
        if not replies:
            raise RuntimeError("celery worker did not answer add_consumer")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def purge(app, *queues):
    """Remove what the run left in Redis: the queues and the results."""
    client = app.backend.client
    for q in queues:
        client.delete(q)
    for pattern in ["celery-task-meta-*"] + [f"_kombu.binding*.{q}" for q in queues]:
        batch = []
        for key in client.scan_iter(pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch = []
        if batch:
            client.delete(*batch)
