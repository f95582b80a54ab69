"""nbgrader's Execute step with the student's kernel inside the sandbox.

The kernel talks to nbgrader over Unix sockets in its scratch folder (ZeroMQ's ipc transport),
since the sandbox has no network, not even loopback. It starts in a copy of the student's
submission folder, so data files the notebook reads are there, while the course itself is hidden.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

from jupyter_client.manager import AsyncKernelManager
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

from autograder.sandbox import SandboxSpec, matplotlib_cache, root_mountpoint, sandboxed


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run through autograder.sandbox."""

    memory_mb = Integer(2048, help="Address-space limit of the kernel, in MB.").tag(config=True)
    cpu_seconds = Integer(600, help="CPU-time limit of the whole kernel, in seconds.").tag(config=True)

    async def _async_pre_start_kernel(self, **kw):
        self._scratch = tempfile.mkdtemp(prefix="nnla-kernel-")
        # Removed when the manager goes, also when the kernel died and cleanup never ran.
        weakref.finalize(self, _remove_scratch, self._scratch)
        sockets = os.path.join(self._scratch, ".kernel")
        os.mkdir(sockets)
        self.transport = "ipc"
        self.ip = os.path.join(sockets, "ipc")
        self.connection_file = os.path.join(sockets, "connection.json")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        spec = SandboxSpec(
            scratch=self._scratch,
            seed=kw.pop("cwd", None),
            copy_in=matplotlib_cache(),
            cpu_seconds=self.cpu_seconds,
            memory_mb=self.memory_mb,
            # NNLA_AUTOGRADE: the notebooks' self-check cell has nothing to do while grading.
            env={"IPYTHONDIR": os.path.join(self._scratch, ".ipython"), "NNLA_AUTOGRADE": "1"},
        )
        await super()._async_launch_kernel(sandboxed(kernel_cmd, spec), cwd=self._scratch, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            _remove_scratch(self._scratch)


def _remove_scratch(scratch: str) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(root_mountpoint(scratch), ignore_errors=True)


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, running the kernel in the sandbox.

    It also keeps at most `max_output_bytes` of each cell's output: a print loop can stream
    gigabytes, which nbclient would otherwise hold in memory until the cell times out.
    """

    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in bytes.").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        self._output_bytes: dict[int, int] = {}

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:
            notice = f"[nnla: output of this cell cut after {self.max_output_bytes:,} bytes]\n"
            outs.append(new_output("stream", name="stdout", text=notice))
        return None
