"""A worker built on the unmodified PyPI `avtomatika-worker` SDK, used by
tests/tests/python_compat.rs to check that Baton serves real RXON clients.

Skill `echo`:
- returns its params as data;
- `sleep` (seconds): sleeps first; if cancelled, writes `cancelled <task_id>` to the file
  named by COMPAT_MARKER_FILE;
- `progress`: sends a progress event of 0.5 first, then works on for 0.3 s;
- `boom`: raises (the SDK reports TRANSIENT_ERROR).
"""

import asyncio
import os

from avtomatika_worker import Worker

worker = Worker(worker_type="python-compat", max_concurrent_tasks=4)
MARKER = os.environ.get("COMPAT_MARKER_FILE", "/tmp/compat-marker")


@worker.skill("echo")
async def echo(params: dict, task_id: str, job_id: str, send_progress, **kwargs) -> dict:
    if params.get("progress"):
        await send_progress(task_id, job_id, 0.5, "python halfway")
        # The SDK emits events apart from results, so a progress event sent just before
        # the result may reach the orchestrator after the task ended, where it is rightly
        # dropped as stale. Real handlers report progress while they still work; so does
        # this one.
        await asyncio.sleep(0.3)
    if params.get("boom"):
        raise RuntimeError("boom as asked")
    if params.get("sleep"):
        try:
            await asyncio.sleep(float(params["sleep"]))
        except asyncio.CancelledError:
            with open(MARKER, "a") as f:
                f.write(f"cancelled {task_id}\n")
            raise
    return {"data": {"echo": params, "worker": "python"}}


if __name__ == "__main__":
    worker.run()
