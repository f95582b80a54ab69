"""nbgrader's Execute step with the student's kernel inside the sandbox.

The kernel talks to nbgrader over Unix sockets in its scratch folder (ZeroMQ's ipc transport),
since the sandbox has no network, not even loopback. It starts in a copy of the student's
submission folder, so data files the notebook reads are there, while the course itself is hidden.
Kernels are forked from a warm zygote (autograder.judge.isolation.zygote), each in a sandbox of
its own as a freshly started one would be; where the zygote cannot start, a kernel starts afresh.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from dataclasses import asdict
from pathlib import Path
from queue import Empty

import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer, Type

from autograder.judge.isolation import zygote as zygote_program
from autograder.judge.isolation.sandbox import (
    SandboxSpec,
    environment,
    hidden_paths,
    matplotlib_cache,
    root_mountpoint,
    sandboxed,
    visible_paths,
    waived,
)

KERNEL_DIED = "KernelDied"
STOPPED_KEY = "nnla_kernel_stopped_in"  # notebook metadata: the cell (from 1) where the kernel stopped
DIED = (
    "the kernel stopped while running this cell (at the cell's time limit, os._exit, a crash, or "
    "a kill at the memory limit or for runaway output); the cells below were not run"
)


class ReadyKernelClient(AsyncKernelClient):
    """jupyter_client's kernel client, ready as soon as the kernel is.

    jupyter_client's wait_for_ready ends by waiting 0.2 s for an IOPub message that does not
    come, at every kernel start; this one drains what has arrived and goes on, since nbclient
    keeps only the IOPub messages its own requests caused.
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:  # a kernel_info reply, then IOPub's status message: both channels connected
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=0.2)
                except Empty:
                    pass  # IOPub not connected yet: ask again
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while await self.iopub_channel.msg_ready():
            await self.iopub_channel.get_msg(timeout=0)


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run through autograder.judge.isolation.sandbox."""

    client_factory = Type(ReadyKernelClient, klass=AsyncKernelClient)

    memory_mb = Integer(2048, help="Address-space limit of the kernel, in MB.").tag(config=True)
    cpu_seconds = Integer(600, help="CPU-time limit of the whole kernel, in seconds.").tag(config=True)
    warm_start = Bool(
        True, help="Fork each kernel from a warm zygote rather than start Python afresh (same sandbox)."
    ).tag(config=True)

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
        kernel = kernel_zygote().spawn(kernel_cmd, spec, self.log) if self.warm_start else None
        if kernel is None:
            await super()._async_launch_kernel(sandboxed(kernel_cmd, spec), cwd=self._scratch, **kw)
            return
        # jupyter_client's local provisioner drives the forked kernel as it would a Popen.
        self.provisioner.process = kernel
        self.provisioner.pid = self.provisioner.pgid = kernel.pid
        self._reconcile_connection_info(self.provisioner.connection_info)

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        # A killed kernel ends within milliseconds: look again that soon, not 0.1 s later.
        await super()._async_wait(pollinterval=0.005)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            _remove_scratch(self._scratch)


def _remove_scratch(scratch: str) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(root_mountpoint(scratch), ignore_errors=True)


class ForkedKernel:
    """A kernel forked by the zygote, with the part of Popen's interface jupyter_client uses.

    It is the zygote's child, not this process's: a pidfd says when it ended, the zygote its
    exit code.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int, zygote: KernelZygote):
        self.pid, self.pidfd, self.zygote = pid, pidfd, zygote
        self.returncode: int | None = None
        weakref.finalize(self, _close_fd, pidfd)

    def poll(self) -> int | None:
        return self.wait(timeout=0)

    def wait(self, timeout: float | None = None) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], timeout)[0]:
            status = self.zygote.status(self.pid)
            self.returncode = status if status is not None else -signal.SIGKILL
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


class KernelZygote:
    """This process's zygote: started on first use, it forks every kernel (see zygote.py)."""

    STARTUP_SECONDS = 60.0
    REPLY_SECONDS = 10.0

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.channel: socket.socket | None = None
        self.home = ""
        self.failed = ""

    def start(self, log: logging.Logger) -> None:
        """Start the zygote; it imports its modules while this process goes on."""
        self.home = tempfile.mkdtemp(prefix="nnla-zygote-")
        for source, name in matplotlib_cache().items():
            os.makedirs(os.path.join(self.home, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(source, os.path.join(self.home, name))
        grader_root = str(Path(zygote_program.__file__).resolve().parents[3])
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.proc = subprocess.Popen(
                # Its folder in the command line tells whose it is, also in its forked kernels.
                [sys.executable, "-c", zygote_program.BOOT, grader_root, self.home],
                stdin=theirs,
                cwd=self.home,
                env=environment(SandboxSpec(scratch=self.home)),
                start_new_session=True,
            )
        self.channel = ours
        self.channel.settimeout(self.STARTUP_SECONDS)
        log.info("kernels fork from a warm zygote (pid %d)", self.proc.pid)

    def spawn(self, argv: list[str], spec: SandboxSpec, log: logging.Logger) -> ForkedKernel | None:
        """A kernel running `argv` in the sandbox `spec`, or None where the zygote failed."""
        if self.failed or not sys.platform.startswith("linux"):  # pidfds and the sandbox are Linux's
            return None
        if self.proc is None:
            self.start(log)
        spec = SandboxSpec(**{**asdict(spec), "visible": visible_paths(), "hidden": hidden_paths()})
        try:
            request = {"op": "spawn", "argv": argv, "spec": asdict(spec), "waived": waived()}
            reply, fds = self._ask(request, maxfds=1)
        except OSError as e:
            self.fail(f"the kernel zygote did not answer ({e})", log)
            return None
        self.channel.settimeout(self.REPLY_SECONDS)
        return ForkedKernel(reply["pid"], fds[0], self)

    def status(self, pid: int) -> int | None:
        try:
            return self._ask({"op": "status", "pid": pid}, maxfds=0)[0]["status"]
        except OSError:
            return None

    def _ask(self, request: dict, maxfds: int) -> tuple[dict, list[int]]:
        assert self.channel is not None
        self.channel.send(json.dumps(request).encode())
        message, fds, _, _ = socket.recv_fds(self.channel, 1 << 16, maxfds)
        if not message or len(fds) != maxfds:
            raise ConnectionError("the kernel zygote ended")
        return json.loads(message), fds

    def fail(self, why: str, log: logging.Logger) -> None:
        """From now on, kernels start afresh."""
        self.failed = why
        log.warning("%s: kernels start afresh from now on, each about 1.5 s slower", why)
        self.close()

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)


_zygote: KernelZygote | None = None


def kernel_zygote() -> KernelZygote:
    """The zygote of this process."""
    global _zygote
    if _zygote is None:
        _zygote = KernelZygote()
        atexit.register(_zygote.close)
    return _zygote


class SandboxedExecute(Execute):
    """nbgrader's Execute preprocessor, running the kernel in the sandbox.

    It keeps at most `max_output_bytes` of each cell's output: a print loop can stream
    gigabytes, which nbclient would otherwise hold in memory until the cell times out. A kernel
    that dies (`os._exit`, a crash, a kill at a limit), reaches a cell's time limit, runs out of
    memory or prints more than `stop_output_bytes` in one cell (it is then stopped) costs only
    its notebook's run: the cell says so, later cells are left unrun, the notebook's metadata
    records the cell (`stopped_kernels`), and grading goes on, since the judge decides the
    autograded cells outside the kernel.
    """

    # Interrupting a cell at its time limit leaves the outcome to the code that was running: a
    # fork bomb's copies of the kernel, threads or signal handlers answer the interrupt on some
    # runs and not on others. A cell that reaches its limit stops the kernel, every time.
    interrupt_on_timeout = Bool(False, help="False: a cell at its time limit stops the kernel.")

    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in bytes.").tag(config=True)
    stop_output_bytes = Integer(
        100_000_000, help="Output of one cell at which its kernel is stopped, in bytes."
    ).tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)
        self._output_bytes: dict[int, int] = {}
        self._died_in: int | None = None

    def preprocess(self, nb, resources=None, km=None):
        self._output_bytes, self._died_in = {}, None
        nb.metadata.pop(STOPPED_KEY, None)  # only this run says where its kernel stopped
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if self._died_in is not None:
            cell.outputs = [_notice(f"Not run: the kernel had stopped in cell {self._died_in + 1}.")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError):
            self._stopped(cell, index)
            return cell, resources
        # A MemoryError leaves the kernel at its address-space limit (the traceback holds what the
        # cell allocated), where what fails next, and when, differs from run to run: a later
        # cell, ipykernel's own threads or the whole kernel. It stops here instead, every time.
        if any(out.get("ename") == "MemoryError" for out in cell.outputs):
            self._stopped(cell, index)
        return cell, resources

    def _stopped(self, cell, index: int) -> None:
        """Stop the kernel in cell `index` (if it has not stopped itself): the cell says so, and
        later cells are not run."""
        self._kill()
        self._died_in = index
        self.log.warning("The kernel stopped while running cell %d; later cells are not run", index + 1)
        cell.outputs.append(new_output("error", ename=KERNEL_DIED, evalue=DIED, traceback=[]))
        # The judge replaces a test cell's outputs, so the notebook, not the cell, keeps this.
        self.nb.metadata[STOPPED_KEY] = index + 1

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if used + size <= self.max_output_bytes:
            return super().output(outs, msg, display_id, cell_index)
        if used <= self.max_output_bytes:
            outs.append(_notice(f"Output of this cell cut after {self.max_output_bytes:,} bytes."))
        if used <= self.stop_output_bytes < used + size:
            # A runaway print loop would run to the time limit, or die at the memory limit as the
            # kernel buffers its output, whichever comes first on the day: it stops here instead,
            # the same way every time (nbclient then finds the kernel dead).
            self._kill()
        return None

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.km.provisioner.pgid, signal.SIGKILL)


def _notice(text: str):
    return new_output("stream", name="stdout", text=f"[nnla: {text}]\n")


def stopped_kernels(folder: Path) -> list[str]:
    """A message for each autograded notebook in `folder` whose kernel stopped in a cell."""
    messages = []
    for path in sorted(folder.glob("*.ipynb")):
        cell = nbformat.read(path, as_version=4).metadata.get(STOPPED_KEY)
        if isinstance(cell, int):
            messages.append(
                f"{path.name}: the kernel stopped while running cell {cell}; the cells after it "
                "were not run (the judge graded the exercises all the same)."
            )
    return messages
