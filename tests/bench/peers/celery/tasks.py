"""The Celery app of the peer comparison: one echo task, broker and result backend on
the same Redis (REDIS_URL), JSON serialization, Celery's defaults otherwise."""

import os

from celery import Celery

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("baton_peers", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="echo")
def echo(data):
    return data
