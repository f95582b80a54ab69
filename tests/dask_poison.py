"""`dask worker --preload tests/dask_poison.py`: the worker process kills itself (SIGKILL) as it
starts the task of a student whose id starts with "poison", as a submission that crashes
whatever grades it would (the sandbox keeps real student code from doing this)."""

import os
import signal

from distributed import WorkerPlugin


class KillOnPoison(WorkerPlugin):
    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and "-poison" in str(key):
            os.kill(os.getpid(), signal.SIGKILL)


async def dask_setup(worker):
    await worker.plugin_add(KillOnPoison(), name="kill-on-poison")
