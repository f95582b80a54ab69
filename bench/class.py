"""How fast is `nnla autograde` on a whole class, and how much memory does a worker need?

One synthetic class (the demo students cycled, correct and buggy mixed, each copy with an id
of its own such as `dave-02`) is graded several ways, each in a fresh copy of the same course
folder (no gradebook.db, no autograded/), interleaved when repeated:

  jobs1   `nnla autograde ch177 --jobs 1`: sandboxed kernels and the judge
  jobs2   the same with `--jobs 2`
  stock   stock `nbgrader autograde ch177 --force --create` with a minimal nbgrader_config.py
          (course id, gradebook, 30 s cell timeout): nbgrader's default preprocessors, hidden
          tests in the student's kernel, no sandbox, no judge. The `generate_assignment` that
          registers the assignment first is not timed.
  floor1  the six notebooks of every submission executed with nbclient, each in a fresh
          kernel, errors allowed (as nbgrader does), one process: no grading, no sandbox
  floor2  the same with the class split across two processes in parallel

Every variant runs with NNLA_AUTOGRADE=1, which nnla sets in its kernels: the last cell of each
notebook (the student self-check, which stock nbgrader copies in) then does nothing in any of them.

Columns (medians over --repeat runs):

  wall s     wall-clock seconds for the whole class, from launch to exit
  s/sub      wall s per submission
  cpu s/sub  CPU seconds (user + system) of the whole process tree per submission, processes
             that outlived their parent included: this script adopts orphans (it is their
             subreaper) and waits for them, so a killed kernel's time is counted too
  worker MB  peak over time of the memory (PSS, from /proc/PID/smaps_rollup) summed over one
             worker's process subtree, the highest worker: for nnla and the floor a worker is a
             direct child of the launched command (a grading process with its kernel zygote,
             kernels and judge workers below it, also those in the sandbox's PID namespace);
             stock nbgrader is one worker, the whole tree. PSS counts a page that n processes
             share (a fork and its zygote) as 1/n in each, so the sum is what the worker uses.
             Sampled every 0.2 s from /proc, so a spike shorter than that is missed
  RSS MB     the same peak as RSS summed, which counts every shared page once per process
  tree MB    peak over time of the PSS summed over the whole process tree
  workers    the most workers alive at the same time
  done       submissions whose output was checked: results.json (nnla), six autograded
             notebooks (stock), six executed notebooks (floor); a run that misses one fails
  other      CPUs kept busy by processes outside the benchmark during the run (the highest
             over the runs): a machine shared with other work slows every figure down

A reference for the speed-up: the machine's own, measured in the same run. A fixed amount of pure
Python work is done by one process, then by two processes at once, three times per repeat;
`cpu scaling` is the median of 2 x (one process's seconds) / (two processes' seconds). On an idle
machine with two free cores it is 2.0; a shared or throttled virtual machine gives less, and no
`--jobs 2` speed-up of CPU-bound grading can be expected to beat it by much.

Then the ratios, with their targets: jobs2 speed-up over jobs1 (at least 1.8), jobs1/floor1
and jobs2/floor2 per submission (at most 0.5), stock/jobs2, peak MB per nnla worker (at most
600), and where the floor's time goes: kernel start-up (from NotebookClient.execute to the
first cell), running the cells, and shutting the kernel down, per notebook.

    .venv/bin/python bench/class.py [--students 40] [--only jobs1,jobs2,stock,floor] [--repeat 1]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

SCRIPT = str(Path(__file__).resolve())
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ASSIGNMENT = "ch177"
COURSE_FILES = ("nbgrader_config.py", "assignments", "source", "release")
VARIANTS = ("jobs1", "jobs2", "stock", "floor1", "floor2")
CHOICES = {"jobs1": ("jobs1",), "jobs2": ("jobs2",), "stock": ("stock",), "floor": ("floor1", "floor2")}
SAMPLE_SECONDS = 0.2
MB = 1024 * 1024
# Private entry points: this script runs itself as the floor's launcher and workers, and as the
# CPU-scaling reference's spinner.
FLOOR_LAUNCH, FLOOR_WORKER, SPIN = "--floor-launch", "--floor-worker", "--spin"
SPIN_LOOPS = 20_000_000  # about 2 s of one core
PR_SET_CHILD_SUBREAPER = 36

STOCK_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "nnla"
c.CourseDirectory.db_url = "sqlite:///{db}"
c.Execute.timeout = 30
"""


def tool_env() -> dict[str, str]:
    """The environment of nbgrader and its kernels, as autograder.grading.nbgrader.tool_env makes it.

    nbgrader creates a new gradebook by running `alembic` from PATH, so this interpreter's
    scripts folder goes first on it even when the venv is not active.
    """
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["MPLBACKEND"] = "Agg"
    env.setdefault("PYTHONHASHSEED", "0")
    # nnla's kernels skip the notebooks' self-check cell; so do stock nbgrader's and the floor's.
    env["NNLA_AUTOGRADE"] = "1"
    return env


# --- the process tree: who is below whom, and how much memory they hold ---------------------


def parents() -> dict[int, int]:
    """pid -> parent pid of every process in /proc (host pids, sandboxed ones included)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        found[int(entry.name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""  # gone meanwhile


def memory_bytes(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process: PSS counts a page shared by n processes as 1/n in each, so a
    sum over processes that share pages (forks of a zygote or fork server) is what they use."""
    found = {b"Rss:": 0, b"Pss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for fields in map(bytes.split, f):
                if fields and fields[0] in found:
                    found[fields[0]] = int(fields[1]) * 1024
    except OSError:
        pass  # gone, a zombie, or a kernel thread
    return found[b"Rss:"], found[b"Pss:"]


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every SAMPLE_SECONDS until stop() is called.

    Workers are the direct children of `root` whose command line holds `worker_marker` (other
    children, such as the `alembic` call that creates a gradebook, are not workers), or `root`
    itself when there is no marker; a
    worker's memory is the RSS summed over its subtree.
    """

    def __init__(self, root: int, worker_marker: str | None) -> None:
        super().__init__(daemon=True)
        self.root, self.worker_marker = root, worker_marker
        self.worker_peak: dict[int, int] = {}  # PSS
        self.worker_rss_peak: dict[int, int] = {}
        self.tree_peak = 0  # PSS
        self.most_workers = 0
        self._finished = threading.Event()

    def run(self) -> None:
        while True:
            self.sample()
            if self._finished.wait(SAMPLE_SECONDS):
                return

    def stop(self) -> None:
        self._finished.set()
        self.join()

    def sample(self) -> None:
        ppid = parents()
        if self.root not in ppid:
            return
        children: dict[int, list[int]] = defaultdict(list)
        for pid, parent in ppid.items():
            children[parent].append(pid)
        memory: dict[int, tuple[int, int]] = {}

        def subtree(top: int) -> tuple[int, int]:
            rss = pss = 0
            stack = [top]
            while stack:
                pid = stack.pop()
                if pid not in memory:
                    memory[pid] = memory_bytes(pid)
                rss, pss = rss + memory[pid][0], pss + memory[pid][1]
                stack.extend(children.get(pid, ()))
            return rss, pss

        # Orphans of the run are adopted by this script (see adopt_orphans) and count to the tree.
        orphans = [pid for pid in children.get(os.getpid(), []) if pid != self.root]
        self.tree_peak = max(self.tree_peak, sum(subtree(top)[1] for top in (self.root, *orphans)))
        if self.worker_marker is None:
            workers = [self.root]
        else:
            workers = [pid for pid in children.get(self.root, []) if self.worker_marker in cmdline(pid)]
        self.most_workers = max(self.most_workers, len(workers))
        for worker in workers:
            rss, pss = subtree(worker)
            self.worker_peak[worker] = max(self.worker_peak.get(worker, 0), pss)
            self.worker_rss_peak[worker] = max(self.worker_rss_peak.get(worker, 0), rss)


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs of the machine have spent busy (not idle, not waiting for I/O) since boot."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, *rest = (int(v) for v in f.readline().split()[1:])
    return (user + nice + system + sum(rest[:3])) / os.sysconf("SC_CLK_TCK")  # + irq, softirq, steal


def adopt_orphans() -> None:
    """Become the parent of every orphan among this script's descendants (Linux), so that waiting
    for them adds their CPU time to RUSAGE_CHILDREN instead of losing it to init."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap_orphans(patience: float = 30.0) -> None:
    """Wait for the adopted orphans of a finished run (killed kernels end within moments)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if time.monotonic() > deadline:
                print("  (some processes of the run were still alive; their CPU time is not counted)")
                return
            time.sleep(0.05)


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of every descendant that has been waited for."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Run:
    seconds: float
    worker_mb: float  # PSS
    worker_rss_mb: float
    tree_mb: float
    workers: int
    cpu_seconds: float  # used by the launched command's tree (and this script's sampler)
    other_cores: float  # CPUs kept busy meanwhile by processes outside this benchmark, on average
    done: int = 0
    notebook_timings: list[dict[str, float]] = field(default_factory=list)


def measure(cmd: list[str], cwd: Path, log: Path, worker_marker: str | None) -> tuple[Run, int]:
    """Run `cmd` to its end while sampling its process tree; the Run and the exit code."""
    with open(log, "wb") as out:
        busy, own = machine_busy_seconds(), own_cpu_seconds()
        started = time.monotonic()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=tool_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        sampler = TreeSampler(proc.pid, worker_marker)
        sampler.start()
        code = proc.wait()
        seconds = time.monotonic() - started
        sampler.stop()
        reap_orphans()
        busy, own = machine_busy_seconds() - busy, own_cpu_seconds() - own
    worker = max(sampler.worker_peak.values(), default=0)
    worker_rss = max(sampler.worker_rss_peak.values(), default=0)
    other = max(0.0, busy - own) / seconds
    run = Run(seconds, worker / MB, worker_rss / MB, sampler.tree_peak / MB, sampler.most_workers, own, other)
    return run, code


def fail(what: str, log: Path) -> NoReturn:
    tail = log.read_text(errors="replace").splitlines()[-40:]
    raise SystemExit(f"FAILED: {what}\n--- last lines of {log} ---\n" + "\n".join(tail))


# --- the class and the variants ---------------------------------------------------------------


def build_class(dest: Path, students: int) -> list[str]:
    """A course folder with the repo's config and notebooks and `students` submissions."""
    from autograder.course import Course
    from autograder.plugin import load_plugin
    from autograder.submissions import write_submission

    dest.mkdir(parents=True)
    for name in COURSE_FILES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    course = Course(dest)
    demo = load_plugin(Course(REPO), ASSIGNMENT).demo_students()
    ids = []
    for i in range(students):
        student = demo[i % len(demo)]
        ids.append(f"{student.id}-{i // len(demo):02d}")
        write_submission(
            course.submitted(ids[-1], ASSIGNMENT),
            course.release(ASSIGNMENT),
            course.source(ASSIGNMENT),
            student.answers,
        )
    return ids


def fresh_copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


def notebooks_in(folder: Path) -> int:
    return len(list(folder.glob("*.ipynb")))


def has_results(path: Path) -> bool:
    """A results.json with a score and tests, as nnla writes it."""
    try:
        results = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(results, dict) and "score" in results and bool(results.get("tests"))


def run_nnla(template: Path, work: Path, ids: list[str], jobs: int) -> Run:
    course = fresh_copy(template, work / "course")
    cmd = [sys.executable, "-m", "autograder.cli", "autograde", ASSIGNMENT, "--jobs", str(jobs)]
    run, code = measure(cmd, course, work / "nnla.log", worker_marker="autograder.grading.process")
    run.done = sum(has_results(course / "autograded" / s / ASSIGNMENT / "results.json") for s in ids)
    if code or run.done != len(ids):
        fail(
            f"nnla autograde --jobs {jobs}: exit {code}, {run.done}/{len(ids)} results.json",
            work / "nnla.log",
        )
    return run


def run_stock(template: Path, work: Path, ids: list[str]) -> Run:
    course = fresh_copy(template, work / "course")
    (course / "nbgrader_config.py").write_text(STOCK_CONFIG.format(db=course / "gradebook.db"))
    nbgrader = [sys.executable, "-m", "nbgrader"]
    release = work / "release"
    setup = subprocess.run(
        [
            *nbgrader,
            "generate_assignment",
            ASSIGNMENT,
            "--force",
            f"--CourseDirectory.release_directory={release}",
        ],
        cwd=course,
        env=tool_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if setup.returncode:
        raise SystemExit(f"FAILED: stock nbgrader generate_assignment:\n{setup.stdout}{setup.stderr}")
    cmd = [*nbgrader, "autograde", ASSIGNMENT, "--force", "--create"]
    run, code = measure(cmd, course, work / "stock.log", worker_marker=None)
    expected = notebooks_in(template / "release" / ASSIGNMENT)
    run.done = sum(notebooks_in(course / "autograded" / s / ASSIGNMENT) == expected for s in ids)
    if code or run.done != len(ids):
        fail(f"stock nbgrader autograde: exit {code}, {run.done}/{len(ids)} autograded", work / "stock.log")
    return run


def run_floor(template: Path, work: Path, ids: list[str], processes: int) -> Run:
    course = fresh_copy(template, work / "course")
    timings = work / "timings.json"
    cmd = [sys.executable, SCRIPT, FLOOR_LAUNCH, str(processes), str(course), str(timings)]
    run, code = measure(cmd, course, work / "floor.log", worker_marker=FLOOR_WORKER)
    if code or not timings.is_file():
        fail(f"floor with {processes} processes: exit {code}", work / "floor.log")
    run.notebook_timings = json.loads(timings.read_text())
    per_student = defaultdict(int)
    for t in run.notebook_timings:
        per_student[t["student"]] += 1
    expected = notebooks_in(template / "release" / ASSIGNMENT)
    run.done = sum(per_student[s] == expected for s in ids)
    if run.done != len(ids):
        fail(f"floor with {processes} processes: {run.done}/{len(ids)} executed", work / "floor.log")
    return run


def floor_launch(processes: int, course: Path, out: Path) -> int:
    """The floor's launched command: split the class across `processes` workers, merge timings."""
    folders = sorted(str(p) for p in (course / "submitted").glob(f"*/{ASSIGNMENT}"))
    parts = [out.with_suffix(f".{i}.json") for i in range(processes)]
    workers = [
        subprocess.Popen([sys.executable, SCRIPT, FLOOR_WORKER, str(part), *group])
        for part, group in zip(parts, (folders[i::processes] for i in range(processes)))
    ]
    code = max(w.wait() for w in workers)
    out.write_text(json.dumps([t for part in parts for t in json.loads(part.read_text())]))
    return code


class CellClock:
    """nbclient hooks: when the first cell began (the kernel is ready) and the last code cell ended."""

    def __init__(self) -> None:
        self.first_start: float | None = None
        self.last_end: float | None = None

    def cell_start(self, **_: object) -> None:
        self.first_start = self.first_start or time.monotonic()

    def cell_complete(self, **_: object) -> None:
        self.last_end = time.monotonic()


def floor_worker(out: Path, folders: list[str]) -> int:
    """Execute every notebook of each submission folder in a fresh kernel, timing each phase."""
    import nbclient
    import nbformat

    timings = []
    for folder in map(Path, folders):
        for path in sorted(folder.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            clock = CellClock()
            client = nbclient.NotebookClient(
                nb,
                timeout=30,
                kernel_name="python3",
                allow_errors=True,
                resources={"metadata": {"path": str(folder)}},
                on_cell_start=clock.cell_start,
                on_cell_complete=clock.cell_complete,
            )
            started = time.monotonic()
            client.execute()
            ended = time.monotonic()
            first, last = clock.first_start or ended, clock.last_end or ended
            timings.append(
                {
                    "student": folder.parent.name,
                    "startup": first - started,
                    "cells": last - first,
                    "shutdown": ended - last,
                }
            )
    out.write_text(json.dumps(timings))
    return 0


def spin() -> int:
    """The CPU-scaling reference's unit of work: pure Python, no I/O, no memory to speak of."""
    total = 0
    for i in range(SPIN_LOOPS):
        total += i * i
    return 0


def cpu_scaling() -> float:
    """2 x (seconds of one spinner) / (seconds of two spinners at once): 2.0 on two free cores."""
    cmd = [sys.executable, SCRIPT, SPIN]

    def timed(processes: int) -> float:
        started = time.monotonic()
        for p in [subprocess.Popen(cmd) for _ in range(processes)]:
            p.wait()
        return time.monotonic() - started

    return 2 * timed(1) / timed(2)


# --- the report ---------------------------------------------------------------------------------


def median(runs: list[Run], what: str) -> float:
    return statistics.median(getattr(r, what) for r in runs)


def print_report(results: dict[str, list[Run]], students: int, scaling: list[float]) -> None:
    header = (
        f"{'variant':<8} {'runs':>4} {'wall s':>8} {'s/sub':>7} {'cpu s/sub':>9} {'worker MB':>10}"
        f" {'RSS MB':>7} {'tree MB':>8} {'workers':>8} {'done':>6} {'other':>6}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for name in VARIANTS:
        if runs := results.get(name):
            seconds = median(runs, "seconds")
            print(
                f"{name:<8} {len(runs):>4} {seconds:>8.1f} {seconds / students:>7.2f}"
                f" {median(runs, 'cpu_seconds') / students:>9.2f}"
                f" {median(runs, 'worker_mb'):>10.0f} {median(runs, 'worker_rss_mb'):>7.0f}"
                f" {median(runs, 'tree_mb'):>8.0f}"
                f" {max(r.workers for r in runs):>8} {min(r.done for r in runs):>3}/{students}"
                f" {max(r.other_cores for r in runs):>6.2f}"
            )

    per_sub = {name: median(runs, "seconds") / students for name, runs in results.items()}
    ratios = []

    def ratio(label: str, value: float, target: str, ok: bool | None = None, digits: int = 2) -> None:
        verdict = "" if ok is None else f"target {target:<6} {'ok' if ok else 'MISSED'}"
        ratios.append(f"{label:<34} {value:>7.{digits}f}   {verdict}".rstrip())

    if {"jobs1", "jobs2"} <= per_sub.keys():
        speedup = per_sub["jobs1"] / per_sub["jobs2"]
        ratio("jobs2 speed-up over jobs1", speedup, ">= 1.8", speedup >= 1.8)
        pairs = zip(results["jobs1"], results["jobs2"])
        speedups = ", ".join(f"{one.seconds / two.seconds:.2f}" for one, two in pairs)
        ratios.append(f"{'  (per repeat)':<34} {speedups}")
    if scaling:
        ratio("cpu scaling (machine reference)", statistics.median(scaling), "")
        ratios.append(f"{'  (each measurement)':<34} {', '.join(f'{x:.2f}' for x in scaling)}")
    for nnla, floor in (("jobs1", "floor1"), ("jobs2", "floor2")):
        if {nnla, floor} <= per_sub.keys():
            value = per_sub[nnla] / per_sub[floor]
            ratio(f"{nnla} / {floor} per submission", value, "<= 0.5", value <= 0.5)
    if {"stock", "jobs2"} <= per_sub.keys():
        ratio("stock / jobs2 per submission", per_sub["stock"] / per_sub["jobs2"], "")
    for name in ("jobs1", "jobs2"):
        if name in results:
            peak = median(results[name], "worker_mb")
            ratio(f"peak MB per worker, {name}", peak, "<= 600", peak <= 600, digits=0)

    phases = []
    for name, processes in (("floor1", 1), ("floor2", 2)):
        if runs := results.get(name):
            timings = [t for r in runs for t in r.notebook_timings]
            phase = {p: statistics.median(t[p] for t in timings) for p in ("startup", "cells", "shutdown")}
            # The workers' time: wall seconds of the run times its worker processes.
            startup_share = sum(t["startup"] for t in timings) / (sum(r.seconds for r in runs) * processes)
            phases.append(
                f"{name} per notebook (median): kernel start-up {phase['startup']:.2f} s, cells"
                f" {phase['cells']:.2f} s, shutdown {phase['shutdown']:.2f} s;"
                f" start-up is {startup_share:.0%} of the workers' time"
            )
    for block in (ratios, phases):
        if block:
            print("\n" + "\n".join(block))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40, help="class size (default: %(default)s)")
    parser.add_argument("--only", default=",".join(CHOICES), help="variants (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant (default: 1)")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    if unknown := set(chosen) - set(CHOICES):
        parser.error(f"unknown variant(s) {sorted(unknown)}; choose from {','.join(CHOICES)}")
    variants = [v for c in CHOICES if c in chosen for v in CHOICES[c]]

    adopt_orphans()
    started = time.monotonic()
    print(
        f"{args.students} submissions, {args.repeat} run(s) of {', '.join(variants)};"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    results: dict[str, list[Run]] = defaultdict(list)
    with tempfile.TemporaryDirectory(prefix="nnla-bench-") as scratch:
        template = Path(scratch) / "class"
        ids = build_class(template, args.students)
        runners = {
            "jobs1": lambda work: run_nnla(template, work, ids, jobs=1),
            "jobs2": lambda work: run_nnla(template, work, ids, jobs=2),
            "stock": lambda work: run_stock(template, work, ids),
            "floor1": lambda work: run_floor(template, work, ids, processes=1),
            "floor2": lambda work: run_floor(template, work, ids, processes=2),
        }
        scaling: list[float] = []
        for repeat in range(args.repeat):
            scaling += [cpu_scaling() for _ in range(3)]
            print(f"  cpu scaling {repeat + 1}/{args.repeat}: {', '.join(f'{x:.2f}' for x in scaling[-3:])}")
            for name in variants:
                work = Path(scratch) / f"{name}-{repeat}"
                work.mkdir()
                run = runners[name](work)
                shutil.rmtree(work)  # the next run starts from a fresh copy anyway
                results[name].append(run)
                print(
                    f"  {name} run {repeat + 1}/{args.repeat}: {run.seconds:.1f} s,"
                    f" {run.done}/{len(ids)} checked, worker peak {run.worker_mb:.0f} MB"
                    f" (RSS {run.worker_rss_mb:.0f} MB),"
                    f" other processes kept {run.other_cores:.2f} CPUs busy",
                    flush=True,
                )
    print_report(results, args.students, scaling)
    print(f"\nbenchmark finished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == FLOOR_LAUNCH:
        sys.exit(floor_launch(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))
    if len(sys.argv) > 1 and sys.argv[1] == FLOOR_WORKER:
        sys.exit(floor_worker(Path(sys.argv[2]), sys.argv[3:]))
    if len(sys.argv) > 1 and sys.argv[1] == SPIN:
        sys.exit(spin())
    sys.exit(main())
