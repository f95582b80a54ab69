"""`nnla report`: one self-contained HTML report of an assignment, nbgrader's CSV and a results bundle.

The report is built from autograded/<student>/<assignment>/results.json, the same verdicts the
students get; the CSV is nbgrader's own export of the gradebook. Same results, same bytes: the
plots are PNGs without metadata and nothing in the page depends on time or place.
"""

from __future__ import annotations

import base64
import io
import json
import statistics
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from autograder.course import Course
from autograder.grading.nbgrader import run_nbgrader
from autograder.grading.results import refresh_results
from autograder.outputs.pages import render


@dataclass(frozen=True)
class Report:
    """What `write_report` wrote, and the numbers it shows."""

    assignment: str
    html: Path
    csv: Path
    bundle: Path
    scores: dict[str, float]  # student -> score after late penalty
    max_score: float
    pass_rates: dict[str, float]  # test -> share of students with full marks, in notebook order
    notebooks: dict[str, str]  # test -> its notebook
    tag_counts: dict[str, dict[str, int]]  # test -> misconception tag -> students it matched
    times: dict[str, float]  # student -> seconds, for the students whose results have one
    isolation: dict[str, int]  # how student code was isolated -> students graded so

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores.values())

    @property
    def median(self) -> float:
        return statistics.median(self.scores.values())

    def lowest_pass_rates(self, n: int = 3) -> list[tuple[str, float]]:
        order = list(self.pass_rates)  # ties keep notebook order
        return sorted(self.pass_rates.items(), key=lambda kv: (kv[1], order.index(kv[0])))[:n]

    def top_tags(self, n: int = 3) -> list[tuple[str, int]]:
        total = Counter()
        for counts in self.tag_counts.values():
            total.update(counts)
        return sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def isolation_text(self) -> str:
        return "; ".join(f"{level} ({n} students)" for level, n in sorted(self.isolation.items()))

    def summary(self) -> str:
        """A few lines for the terminal."""
        lowest = ", ".join(f"{name} {rate:.0%}" for name, rate in self.lowest_pass_rates())
        tags = ", ".join(f"{tag} ({n})" for tag, n in self.top_tags()) or "none matched"
        return "\n".join(
            [
                f"{self.assignment}: {len(self.scores)} students graded, mean {self.mean:.4g}, "
                f"median {self.median:.4g} / {self.max_score:g}",
                f"lowest pass rates: {lowest}",
                f"most frequent misconceptions: {tags}",
                f"isolation: {self.isolation_text()}",
                f"report: {self.html}",
                f"grades: {self.csv}",
                f"results bundle: {self.bundle}",
            ]
        )


def load_results(course: Course, assignment: str) -> dict[str, dict]:
    """student -> results.json content, sorted by student id; FileNotFoundError when there is none."""
    base = course.root / "autograded"
    # iterdir, not glob: a student id may contain glob characters such as '['.
    paths = {p.name: p / assignment / "results.json" for p in base.iterdir()} if base.is_dir() else {}
    results = {s: json.loads(p.read_text(encoding="utf-8")) for s, p in sorted(paths.items()) if p.is_file()}
    if not results:
        raise FileNotFoundError(
            f"no results in {base}/<student>/{assignment}/results.json: "
            f"run `nnla autograde {assignment}` first"
        )
    return results


def pass_rates(results: dict[str, dict]) -> tuple[dict[str, float], dict[str, str]]:
    """test -> share of students with full marks on it (tests grouped by notebook), and test -> notebook."""
    notebook, passed = {}, Counter()
    for res in results.values():
        for test in res["tests"]:
            notebook.setdefault(test["name"], test["extra_data"]["notebook"])
            passed[test["name"]] += test["status"] == "passed"
    # sorted() is stable, so tests keep their order within a notebook.
    order = sorted(notebook, key=notebook.get)
    return {name: passed[name] / len(results) for name in order}, {name: notebook[name] for name in order}


def tag_counts(results: dict[str, dict]) -> dict[str, dict[str, int]]:
    """test -> tag -> number of students whose failure of that test matched the tag."""
    counts: dict[str, Counter] = {}
    for res in results.values():
        for test in res["tests"]:
            counts.setdefault(test["name"], Counter()).update(set(test.get("tags", [])))
    return {name: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for name, c in counts.items() if c}


def isolation_levels(results: dict[str, dict]) -> dict[str, int]:
    """How student code was isolated while grading -> how many students were graded so."""
    levels = Counter()
    for res in results.values():
        record = res.get("extra_data", {}).get("isolation") or {}
        level = str(record.get("level", "not recorded"))
        if record.get("missing"):
            level += f" (missing: {', '.join(map(str, record['missing']))})"
        levels[level] += 1
    return dict(levels)


def score_histogram(scores: list[float], max_score: float) -> tuple[list[int], list[float]]:
    """Counts and edges of one-point bins from min(0, lowest score) to the maximum score."""
    lo, hi = int(np.floor(min([0.0, *scores]))), int(np.ceil(max(max_score, *scores, 1.0)))
    counts, edges = np.histogram(scores, bins=np.arange(lo, hi + 1))
    return counts.tolist(), edges.tolist()


def _png(fig: Figure, alt: str) -> dict[str, str]:
    """The figure as base64 PNG with its alt text; no Software/date metadata, so the bytes are
    reproducible."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    return {"alt": alt, "png": base64.b64encode(buf.getvalue()).decode("ascii")}


def _barh(labels: list[str], values: list[float], colors: list[str], xlabel: str, empty: str) -> Figure:
    """Horizontal bars, first label on top; `empty` is shown instead when there are no bars."""
    fig = Figure(figsize=(7.5, 0.26 * len(labels) + 1.2))
    ax = fig.add_subplot()
    if not labels:
        ax.set_axis_off()
        ax.text(0.5, 0.5, empty, ha="center", va="center")
        return fig
    ax.barh(range(len(labels)), values, color=colors)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    return fig


def _plots(report: Report) -> dict[str, dict[str, str]]:
    """The four figures: scores, pass rates, misconceptions, times."""
    counts, edges = score_histogram(list(report.scores.values()), report.max_score)
    fig = Figure(figsize=(7.5, 3))
    ax = fig.add_subplot()
    ax.stairs(counts, edges, fill=True)
    ax.set(xlabel=f"score, written answers included (out of {report.max_score:g})", ylabel="students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    plots = [_png(fig, "histogram of scores")]

    notebooks = list(dict.fromkeys(report.notebooks.values()))
    color = {nb: f"C{i % 10}" for i, nb in enumerate(notebooks)}
    tests = list(report.pass_rates)
    rates = [report.pass_rates[t] for t in tests]
    fig = _barh(
        tests, rates, [color[report.notebooks[t]] for t in tests], "share with full marks", "no tests"
    )
    if tests:
        fig.axes[0].set_xlim(0, 1)
        handles = [Patch(color=color[nb], label=nb) for nb in notebooks]
        fig.axes[0].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    plots.append(_png(fig, "pass rate per test"))

    rows = [(f"{test}: {tag}", n) for test, tags in report.tag_counts.items() for tag, n in tags.items()]
    labels, numbers = [r[0] for r in rows], [r[1] for r in rows]
    fig = _barh(labels, numbers, ["C3"] * len(rows), "students", "no misconception matched")
    fig.axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    plots.append(_png(fig, "students per misconception and test"))

    fig = Figure(figsize=(7.5, 3))
    ax = fig.add_subplot()
    if report.times:
        ax.hist(list(report.times.values()), bins=min(20, max(5, len(report.times))), edgecolor="white")
        ax.set(xlabel="seconds per submission", ylabel="students")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no submission has a recorded execution_time", ha="center", va="center")
    plots.append(_png(fig, "histogram of grading time per submission"))
    return dict(zip(("scores", "passes", "tags", "times"), plots))


def render_html(report: Report, results: dict[str, dict]) -> str:
    """The report page (templates/report.html.j2, which escapes every value)."""
    rows = []
    for student, res in results.items():
        extra = res.get("extra_data", {})
        rows.append(
            {
                "student": student,
                "score": res["score"],
                "late": float(extra.get("late_penalty") or 0),
                "seconds": f"{report.times[student]:.1f}" if student in report.times else "",
                "messages": [str(m) for m in extra.get("messages") or []],
            }
        )
    skipped = len(report.scores) - len(report.times)
    return render("report.html.j2", report=report, plots=_plots(report), rows=rows, skipped=skipped)


def write_bundle(course: Course, assignment: str, students: list[str], path: Path) -> None:
    """A zip of <student>/results.json, Gradescope style; fixed dates: same results, same zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for student in students:
            info = zipfile.ZipInfo(f"{student}/results.json", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, (course.autograded(student, assignment) / "results.json").read_bytes())


def write_report(course: Course, assignment: str, out: Path | None = None) -> Report:
    """Write report.html, grades.csv and results_bundle.zip into `out` (default reports/<assignment>)."""
    base = course.root / "autograded"
    if base.is_dir():  # grades and comments given in formgrader since autograding
        refresh_results(course, assignment, sorted(p.name for p in base.iterdir()))
    results = load_results(course, assignment)
    out = Path(out or course.root / "reports" / assignment).resolve()  # nbgrader runs in the course root
    out.mkdir(parents=True, exist_ok=True)
    rates, notebooks = pass_rates(results)
    report = Report(
        assignment=assignment,
        html=out / "report.html",
        csv=out / "grades.csv",
        bundle=out / "results_bundle.zip",
        scores={s: float(r["score"]) for s, r in results.items()},
        max_score=max(float(r["extra_data"]["max_score"]) for r in results.values()),
        pass_rates=rates,
        notebooks=notebooks,
        tag_counts=tag_counts(results),
        times={s: float(t) for s, r in results.items() if (t := r.get("execution_time")) is not None},
        isolation=isolation_levels(results),
    )
    report.html.write_text(render_html(report, results), encoding="utf-8")
    run_nbgrader(course, "export", f"--to={report.csv}", f"--assignment={assignment}")
    write_bundle(course, assignment, list(results), report.bundle)
    return report
