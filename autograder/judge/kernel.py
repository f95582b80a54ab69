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
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

from autograder.judge.isolation.sandbox import SandboxSpec, matplotlib_cache, root_mountpoint, sandboxed

KERNEL_DIED = "KernelDied"
DIED = (
    "the kernel stopped while running this cell (os._exit, a crash, or a kill at the time or memory "
    "limit); the cells below were not run"
)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run through autograder.judge.isolation.sandbox."""

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

    It keeps at most `max_output_bytes` of each cell's output: a print loop can stream
    gigabytes, which nbclient would otherwise hold in memory until the cell times out. A kernel
    that dies (`os._exit`, a crash, a kill at a limit) costs only its notebook's run:
    the cell says so, later cells are left unrun, and grading goes on, since the judge decides
    the autograded cells outside the kernel.
    """

    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in bytes.").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        self._output_bytes: dict[int, int] = {}
        self._died_in: int | None = None

    def preprocess(self, nb, resources=None, km=None):
        self._output_bytes, self._died_in = {}, None
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._died_in is not None:
            cell.outputs = [_notice(f"Not run: the kernel had stopped in cell {self._died_in + 1}.")]
            return cell, resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._died_in = index
            self.log.warning("The kernel stopped while running cell %d; later cells are not run", index + 1)
            cell.outputs.append(new_output("error", ename=KERNEL_DIED, evalue=DIED, traceback=[]))
            return cell, resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:
            outs.append(_notice(f"Output of this cell cut after {self.max_output_bytes:,} bytes."))
        return None


def _notice(text: str):
    return new_output("stream", name="stdout", text=f"[nnla: {text}]\n")


def stopped_kernels(folder: Path) -> list[str]:
    """A message for each autograded notebook in `folder` whose kernel stopped in a cell."""
    messages = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            if any(out.get("ename") == KERNEL_DIED for out in cell.get("outputs", [])):
                messages.append(
                    f"{path.name}: the kernel stopped while running cell {index + 1}; the cells after it "
                    "were not run (the judge graded the exercises all the same)."
                )
    return messages
