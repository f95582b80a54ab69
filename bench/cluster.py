"""Grading on a Dask cluster: what it costs next to the local pool, and a long run (soak).

  overhead (default)  one class of --students submissions (bench/class.py's) graded twice, side
                      by side, each into a fresh PostgreSQL database: `nnla autograde --jobs 2`
                      (the local pool) and `nnla autograde --scheduler ADDRESS` on `dask
                      scheduler` + two `dask worker` processes of one thread each (the same two
                      cores). Prints wall and CPU seconds per submission, and the difference:
                      what Dask costs a submission.
  --soak N            N submissions on the same cluster. Every 2 s, the memory (PSS) of each
                      `dask worker` process tree (nanny, worker, grading process, kernels, judge).
                      Prints each worker's median memory over the first and the last tenth of the
                      run, the processes and scratch folders of the run still there once it has
                      ended, and how many times each student is in the gradebook.

PostgreSQL comes from the system's packages (tests/servers.py starts a throwaway server).

    .venv/bin/python bench/cluster.py [--students 40] [--soak 300]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers import DaskCluster, Postgres, missing_postgres  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_class", REPO / "bench" / "class.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_class"] = bench
_spec.loader.exec_module(bench)

SAMPLE_SECONDS = 2.0
LEFTOVER_MARKERS = ("autograder.grading.process", "autograder.judge", "ipykernel", "serve(warm")
SCRATCH_PREFIXES = ("nnla-worker-", "nnla-run-", "nnla-judge-", "nnla-probe-")


class WorkerMemory(threading.Thread):
    """PSS of each `dask worker` process tree, every SAMPLE_SECONDS."""

    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.samples: dict[int, list[float]] = {root: [] for root in roots}
        self._finished = threading.Event()

    def run(self) -> None:
        while not self._finished.wait(SAMPLE_SECONDS):
            ppid = bench.parents()
            children: dict[int, list[int]] = {}
            for pid, parent in ppid.items():
                children.setdefault(parent, []).append(pid)
            for root in self.roots:
                total, stack = 0, [root]
                while stack:
                    pid = stack.pop()
                    total += bench.memory_bytes(pid)[1]
                    stack.extend(children.get(pid, ()))
                self.samples[root].append(total / bench.MB)

    def stop(self) -> None:
        self._finished.set()
        self.join()


def leftovers() -> tuple[list[str], list[str]]:
    """Processes of a grading run, and scratch folders, still on this machine."""
    processes = []
    for pid in bench.parents():
        cmd = bench.cmdline(pid)
        if pid != os.getpid() and any(marker in cmd for marker in LEFTOVER_MARKERS):
            processes.append(f"{pid}: {cmd[:100]}")
    tmp = Path(tempfile.gettempdir())
    folders = [str(p) for prefix in SCRATCH_PREFIXES for p in tmp.glob(f"{prefix}*")]
    return processes, folders


def in_gradebook(course: Path, gradebook: str) -> dict[str, int]:
    from autograder.course import Course
    from autograder.grading.nbgrader import open_gradebook

    os.environ["NNLA_GRADEBOOK_URL"] = gradebook
    try:
        with open_gradebook(Course(course)) as gb:
            counted: dict[str, int] = {}
            for submission in gb.assignment_submissions(bench.ASSIGNMENT):
                counted[submission.student.id] = counted.get(submission.student.id, 0) + 1
            return counted
    finally:
        del os.environ["NNLA_GRADEBOOK_URL"]


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU seconds of the processes below `roots` (roots included): each live one's own, and
    its children's that it has waited for (which include theirs)."""
    ppid = bench.parents()
    children: dict[int, list[int]] = {}
    for pid, parent in ppid.items():
        children.setdefault(parent, []).append(pid)
    total, stack = 0.0, list(roots)
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
        stack.extend(children.get(pid, ()))
    return total


def grade(
    template: Path, work: Path, ids: list[str], args: list[str], gradebook: str, servers: list[int]
) -> tuple[float, float]:
    """Wall seconds, and CPU seconds of the command's and the servers' process trees."""
    course = bench.fresh_copy(template, work / "course")
    cmd = [sys.executable, "-m", "autograder.cli", "autograde", bench.ASSIGNMENT, *args]
    env = {**bench.tool_env(), "NNLA_GRADEBOOK_URL": gradebook}
    servers_before, own_before = tree_cpu_seconds(servers), bench.own_cpu_seconds()
    started = time.monotonic()
    with open(work / "nnla.log", "wb") as log:
        code = bench.subprocess.run(
            cmd, cwd=course, env=env, stdout=log, stderr=bench.subprocess.STDOUT
        ).returncode
    seconds = time.monotonic() - started
    cpu = tree_cpu_seconds(servers) - servers_before + bench.own_cpu_seconds() - own_before
    done = sum(bench.has_results(course / "autograded" / s / bench.ASSIGNMENT / "results.json") for s in ids)
    if code or done != len(ids):
        bench.fail(f"{' '.join(args)}: exit {code}, {done}/{len(ids)} results.json", work / "nnla.log")
    return seconds, cpu


def overhead(scratch: Path, students: int, postgres: Postgres, dask: DaskCluster) -> None:
    template = scratch / "class"
    ids = bench.build_class(template, students)
    # PostgreSQL's server works for both; the idle Dask processes are counted in both too.
    servers = [postgres.process.pid, *(p.pid for p in dask.processes)]
    runs = {}
    for name, args in (("local", ["--jobs", "2"]), ("dask", ["--scheduler", dask.address])):
        work = scratch / f"run-{name}"
        work.mkdir()
        runs[name] = grade(template, work, ids, args, postgres.new_database(f"overhead_{name}"), servers)
        print(f"  {name}: {runs[name][0]:.1f} s", flush=True)
    print(f"\n{'':<8} {'wall s':>8} {'s/sub':>7} {'cpu s/sub':>9}")
    for name, (seconds, cpu) in runs.items():
        print(f"{name:<8} {seconds:>8.1f} {seconds / students:>7.2f} {cpu / students:>9.2f}")
    extra = (runs["dask"][0] - runs["local"][0]) / students
    extra_cpu = (runs["dask"][1] - runs["local"][1]) / students
    print(
        f"\nDask's cost per submission: {extra:+.3f} s wall, {extra_cpu:+.3f} CPU s"
        f" ({runs['dask'][0] / runs['local'][0]:.2f}x the local pool's time)"
    )


def soak(scratch: Path, students: int, postgres: Postgres, dask: DaskCluster, nannies: list[int]) -> None:
    template = scratch / "soak-class"
    ids = bench.build_class(template, students)
    course = bench.fresh_copy(template, scratch / "soak" / "course")
    gradebook = postgres.new_database("soak")
    with dask.client() as client:
        workers_before = set(client.run(os.getpid).values())
    memory = WorkerMemory(nannies)
    memory.start()
    started = time.monotonic()
    os.environ["NNLA_GRADEBOOK_URL"] = gradebook
    try:
        done = bench.subprocess.run(
            [
                sys.executable,
                "-m",
                "autograder.cli",
                "autograde",
                bench.ASSIGNMENT,
                "--scheduler",
                dask.address,
            ],
            cwd=course,
            env=bench.tool_env(),
            capture_output=True,
            text=True,
        )
    finally:
        del os.environ["NNLA_GRADEBOOK_URL"]
    seconds = time.monotonic() - started
    memory.stop()
    graded = sum(
        bench.has_results(course / "autograded" / s / bench.ASSIGNMENT / "results.json") for s in ids
    )
    print(
        f"\nsoak: {students} submissions in {seconds:.0f} s, exit {done.returncode},"
        f" {graded}/{students} results.json"
    )
    for nanny, samples in memory.samples.items():
        tenth = max(1, len(samples) // 10)
        first, last = statistics.median(samples[:tenth]), statistics.median(samples[-tenth:])
        starts = range(0, len(samples) - tenth + 1, tenth)
        tenths = [statistics.median(samples[i : i + tenth]) for i in starts]
        print(
            f"  worker {nanny}: {len(samples)} samples, first tenth {first:.0f} MB, last tenth {last:.0f} MB,"
            f" peak {max(samples):.0f} MB; median of each tenth: {', '.join(f'{m:.0f}' for m in tenths)}"
        )
    with dask.client() as client:
        restarted = len(set(client.run(os.getpid).values()) - workers_before)
    counted = in_gradebook(course, gradebook)
    once = sum(counted.get(s) == 1 for s in ids)
    print(
        f"  in the gradebook exactly once: {once}/{students}; other counts: "
        f"{ {s: n for s, n in counted.items() if n != 1} or 'none' }"
    )
    processes, folders = leftovers()
    print(
        f"  after the run, cluster still up: {len(processes)} grading processes,"
        f" {len(folders)} scratch folders left"
    )
    for line in processes + folders:
        print(f"    {line}")
    print(f"  worker processes restarted during the run: {restarted}")
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-2000:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40, help="class size for the overhead (default: 40)")
    parser.add_argument("--soak", type=int, default=0, help="submissions of a soak run (default: none)")
    args = parser.parse_args()
    if problem := missing_postgres():
        raise SystemExit(f"cannot run: {problem}")
    postgres = Postgres()
    scratch = Path(tempfile.mkdtemp(prefix="nnla-bench-cluster-"))
    dask = DaskCluster(scratch / "dask")
    try:
        nannies = [dask.add_worker().pid for _ in range(2)]
        dask.wait_for_workers(2)
        print(f"2 dask workers of one thread; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        if args.students:
            overhead(scratch, args.students, postgres, dask)
        if args.soak:
            soak(scratch, args.soak, postgres, dask, nannies)
    finally:
        dask.stop()
        postgres.stop()
        bench.shutil.rmtree(scratch, ignore_errors=True)
    processes, folders = leftovers()
    print(f"after the cluster stopped: {len(processes)} processes, {len(folders)} scratch folders left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
