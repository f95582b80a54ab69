"""How fast is the student self-check? `python selfcheck.py` in a student's assignment folder.

The folder holds the release notebooks filled with the full solution (every check runs to the
end and passes) and the released selfcheck.py. Prints the median wall-clock time of several runs,
and the CPU time they used: for all six notebooks with 1, 2, 3 and 6 check processes and with the
script's default (two when a second core is idle, else one), and for each notebook alone. The
issue's targets: all six at most 3 s, one notebook at most 1 s. The machine's load average is
printed too: other work on the machine slows every figure down.

    .venv/bin/python bench/selfcheck.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.submissions import full_solution, write_submission  # noqa: E402

ASSIGNMENT = "ch177"


def student_folder(dest: Path) -> Path:
    release, source = REPO / "release" / ASSIGNMENT, REPO / "source" / ASSIGNMENT
    write_submission(dest, release, source, full_solution(source))
    for name in ("selfcheck.py", "public_checks.py"):
        shutil.copy2(release / name, dest)
    return dest


def run(folder: Path, *args: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds (all processes) of one `python selfcheck.py ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "selfcheck.py", *args], cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"selfcheck.py {' '.join(args)} failed on the full solution:\n{done.stdout}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (default: 7)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selfcheck-bench-") as scratch:
        folder = student_folder(Path(scratch) / ASSIGNMENT)
        notebooks = sorted(p.name for p in folder.glob("*.ipynb"))
        configs = {
            f"all six, {n} check process{'es' if n > 1 else ''}": ["--processes", str(n)]
            for n in (1, 2, 3, 6)
        }
        configs["all six, default"] = []
        configs.update({nb: [nb] for nb in notebooks})
        run(folder)  # warm the file-system cache once
        load_before = os.getloadavg()[0]
        # Round robin, so that a burst of load on the machine hits every configuration alike.
        wall: dict[str, list[float]] = {name: [] for name in configs}
        cpu: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(args.repeat):
            for name, extra in configs.items():
                seconds, used = run(folder, *extra)
                wall[name].append(seconds)
                cpu[name].append(used)
        load_after = os.getloadavg()[0]
        print(
            f"python selfcheck.py in a student folder (full solution), {args.repeat} runs each; "
            f"{os.cpu_count()} cores, load average {load_before:.2f} before, {load_after:.2f} after"
        )
        print(f"{'what':<34} {'median':>7} {'min':>6} {'max':>6} {'cpu':>6}   seconds")
        for name, values in wall.items():
            print(
                f"{name:<34} {statistics.median(values):7.2f} {min(values):6.2f} {max(values):6.2f}"
                f" {statistics.median(cpu[name]):6.2f}"
            )
        all_six = statistics.median(wall["all six, default"])
        singles = {nb: statistics.median(wall[nb]) for nb in notebooks}
        worst = max(singles, key=singles.get)
        print(f"all six notebooks: median {all_six:.2f} s (target <= 3 s)")
        print(
            f"one notebook: median {statistics.median(singles.values()):.2f} s over the six; slowest "
            f"{worst} {singles[worst]:.2f} s (target <= 1 s)"
        )


if __name__ == "__main__":
    main()
