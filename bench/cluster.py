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


def grade(template: Path, work: Path, ids: list[str], args: list[str], gradebook: str) -> bench.Run:
    course = bench.fresh_copy(template, work / "course")
    cmd = [sys.executable, "-m", "autograder.cli", "autograde", bench.ASSIGNMENT, *args]
    os.environ["NNLA_GRADEBOOK_URL"] = gradebook  # bench.measure runs it with this environment
    try:
        run, code = bench.measure(cmd, course, work / "nnla.log", worker_marker="autograder.grading.process")
    finally:
        del os.environ["NNLA_GRADEBOOK_URL"]
    run.done = sum(
        bench.has_results(course / "autograded" / s / bench.ASSIGNMENT / "results.json") for s in ids
    )
    if code or run.done != len(ids):
        bench.fail(f"{' '.join(args)}: exit {code}, {run.done}/{len(ids)} results.json", work / "nnla.log")
    return run


def overhead(scratch: Path, students: int, postgres: Postgres, dask: DaskCluster) -> None:
    template = scratch / "class"
    ids = bench.build_class(template, students)
    runs = {}
    for name, args in (("local", ["--jobs", "2"]), ("dask", ["--scheduler", dask.address])):
        work = scratch / name
        work.mkdir()
        runs[name] = grade(template, work, ids, args, postgres.new_database(f"overhead_{name}"))
        print(
            f"  {name}: {runs[name].seconds:.1f} s,"
            f" other processes kept {runs[name].other_cores:.2f} CPUs busy"
        )
    print(f"\n{'':<8} {'wall s':>8} {'s/sub':>7} {'cpu s/sub':>9}")
    for name, run in runs.items():
        print(
            f"{name:<8} {run.seconds:>8.1f} {run.seconds / students:>7.2f} {run.cpu_seconds / students:>9.2f}"
        )
    extra = (runs["dask"].seconds - runs["local"].seconds) / students
    print(
        f"\nDask's overhead per submission: {extra:+.3f} s"
        f" ({runs['dask'].seconds / runs['local'].seconds:.2f}x the local pool's time)"
    )
    print("  (the dask CPU column counts the coordinator only: the workers are not its children)")


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
        print(
            f"  worker {nanny}: {len(samples)} samples, first tenth {first:.0f} MB, last tenth {last:.0f} MB,"
            f" peak {max(samples):.0f} MB"
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
    bench.adopt_orphans()
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
