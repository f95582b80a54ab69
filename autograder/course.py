"""Where a course's files are, and what an assignment manifest says."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

LATE_POLICIES = ("none", "zero")
# Who sees a result on Gradescope, and from when (its autograder results specification).
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


@dataclass(frozen=True)
class Limits:
    """Resource limits and hypothesis budget for one exercise's hidden properties."""

    cpu_seconds: float
    wall_seconds: float
    memory_mb: int
    max_examples: int


@dataclass(frozen=True)
class NotebookGuide:
    """What the students' README says about one notebook (manifest table `[notebook."<name>"]`)."""

    minutes: int  # a realistic time estimate
    objectives: tuple[str, ...]  # what a student learns from it (Markdown, one sentence each)
    complete_answers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # grade_id -> what it contains


@dataclass(frozen=True)
class ResultsVisibility:
    """Who sees what of results.json on Gradescope (manifest table `[results]`).

    `visibility` is the whole result's, `stdout_visibility` that of what the autograder printed,
    `tests` each test's by default; `test_visibility` overrides it for a notebook's tests (key:
    the notebook's name) or one test (key: "notebook/grade_id"), the more specific key winning.
    """

    visibility: str = "visible"
    stdout_visibility: str = "hidden"
    tests: str = "visible"
    test_visibility: dict[str, str] = field(default_factory=dict)

    def of_test(self, notebook: str, grade_id: str) -> str:
        """The visibility of one autograded test."""
        found = self.test_visibility
        return found.get(f"{notebook}/{grade_id}", found.get(notebook, self.tests))


@dataclass(frozen=True)
class Manifest:
    """An assignment as `assignments/<id>.toml` describes it."""

    id: str
    title: str
    due: dt.datetime
    late_policy: str
    notebooks: tuple[str, ...]
    default_limits: Limits
    exercise_limits: dict[str, Limits] = field(default_factory=dict)
    contract: dict[str, tuple[str, ...]] = field(default_factory=dict)  # notebook -> names it defines
    banned_calls: dict[str, str] = field(default_factory=dict)  # as feedback names it -> module.name
    references: tuple[str, ...] = ()  # packages the hidden suites compare with
    # notebook -> its time, objectives and complete written answers; empty when the manifest has
    # no [notebook."<name>"] tables, else one per notebook
    guides: dict[str, NotebookGuide] = field(default_factory=dict)
    results: ResultsVisibility = field(default_factory=ResultsVisibility)  # the [results] table

    def limits_for(self, exercise: str) -> Limits:
        return self.exercise_limits.get(exercise, self.default_limits)

    @property
    def exercises(self) -> list[str]:
        """Every name of the contract."""
        return sorted({name for names in self.contract.values() for name in names})

    def name_tested_by(self, grade_id: str, notebook: str) -> str | None:
        """The contract name an autograded grade_id tests (the longest name it starts with)."""
        names = [n for n in self.contract.get(notebook, ()) if grade_id.startswith(n + "_")]
        return max(names, key=len) if names else None


def load_manifest(path: Path) -> Manifest:
    """Read and check a manifest; raise ValueError naming the first thing that is wrong."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    try:
        due = data["due"]
        if not isinstance(due, dt.datetime) or due.tzinfo is None:
            raise ValueError(f"{path}: 'due' must be a date-time with a time zone, e.g. 2026-12-14T23:59:00Z")
        if data["late_policy"] not in LATE_POLICIES:
            raise ValueError(f"{path}: late_policy must be one of {LATE_POLICIES}")
        default = Limits(
            cpu_seconds=float(data["limits"]["cpu_seconds"]),
            wall_seconds=float(data["limits"]["wall_seconds"]),
            memory_mb=int(data["limits"]["memory_mb"]),
            max_examples=int(data["hypothesis"]["max_examples"]),
        )
        exercises = {
            name: Limits(**{**default.__dict__, **overrides})
            for name, overrides in data.get("exercises", {}).items()
        }
        return Manifest(
            id=data["id"],
            title=data["title"],
            due=due,
            late_policy=data["late_policy"],
            notebooks=tuple(data["notebooks"]),
            default_limits=default,
            exercise_limits=exercises,
            contract={nb: tuple(names) for nb, names in data.get("contract", {}).items()},
            banned_calls=dict(data.get("banned_calls", {})),
            references=tuple(data.get("references", ())),
            guides=load_guides(path, data.get("notebook", {}), tuple(data["notebooks"])),
            results=load_results_visibility(path, data.get("results", {}), tuple(data["notebooks"])),
        )
    except KeyError as missing:
        raise ValueError(f"{path}: missing key {missing}") from None
    except TypeError as bad:
        raise ValueError(f"{path}: {bad}") from None


GUIDE_KEYS = ("minutes", "objectives", "complete_answer")


def load_guides(path: Path, tables: object, notebooks: tuple[str, ...]) -> dict[str, NotebookGuide]:
    """The `[notebook."<name>"]` tables: none at all, or one for each of `notebooks` and no other.

    Each has `minutes` (a whole number above 0), `objectives` (a list of sentences) and, when the
    notebook has hand-graded cells, `complete_answer`: a table from each such cell's nbgrader
    grade_id to the list of what a complete answer contains (checked against the notebooks by
    autograder.outputs.student_readme).
    """
    if not isinstance(tables, dict):
        raise ValueError(f'{path}: `notebook` must be tables, [notebook."<name>"], one per notebook')
    unknown = [nb for nb in tables if nb not in notebooks]
    if unknown:
        raise ValueError(
            f'{path}: [notebook."{unknown[0]}"] is not a notebook of the assignment '
            f"(notebooks = {list(notebooks)})"
        )
    missing = [nb for nb in notebooks if nb not in tables]
    if tables and missing:
        raise ValueError(
            f'{path}: no [notebook."{missing[0]}"] table: once one notebook has one (minutes, '
            "objectives), every notebook needs one"
        )
    guides = {}
    for notebook in notebooks:
        if notebook not in tables:
            continue
        table, where = tables[notebook], f'{path}: [notebook."{notebook}"]'
        if not isinstance(table, dict):
            raise ValueError(f"{where} must be a table with minutes and objectives")
        extra = sorted(set(table) - set(GUIDE_KEYS))
        if extra:
            raise ValueError(f"{where} has an unknown key {extra[0]!r} (known: {', '.join(GUIDE_KEYS)})")
        for key in ("minutes", "objectives"):
            if key not in table:
                raise ValueError(f"{where} is missing {key!r}")
        minutes = table["minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
            raise ValueError(f"{where}: minutes must be a whole number of minutes above 0, got {minutes!r}")
        answers = table.get("complete_answer", {})
        if not isinstance(answers, dict):
            raise ValueError(
                f"{where}: complete_answer must be a table, grade_id = [what the answer contains]"
            )
        guides[notebook] = NotebookGuide(
            minutes=minutes,
            objectives=_sentences(table["objectives"], f"{where} objectives"),
            complete_answers={
                grade_id: _sentences(items, f"{where} complete_answer.{grade_id}")
                for grade_id, items in answers.items()
            },
        )
    return guides


RESULTS_KEYS = ("visibility", "stdout_visibility", "tests", "test_visibility")


def load_results_visibility(path: Path, table: object, notebooks: tuple[str, ...]) -> ResultsVisibility:
    """The `[results]` table: `visibility`, `stdout_visibility` and `tests`, each one of
    VISIBILITIES, and `[results.test_visibility]`, from a notebook's name or "notebook/grade_id"
    (an autograded test of that notebook, checked against its source notebook) to one of them."""
    if not isinstance(table, dict):
        raise ValueError(f"{path}: `results` must be a table, [results]")
    extra = sorted(set(table) - set(RESULTS_KEYS))
    if extra:
        raise ValueError(
            f"{path}: [results] has an unknown key {extra[0]!r} (known: {', '.join(RESULTS_KEYS)})"
        )
    overrides = table.get("test_visibility", {})
    if not isinstance(overrides, dict):
        raise ValueError(
            f'{path}: [results.test_visibility] must be a table, "notebook" or "notebook/grade_id" = ...'
        )
    chosen = [(f"[results] {k}", table[k]) for k in RESULTS_KEYS[:3] if k in table]
    chosen += [(f'[results.test_visibility] "{k}"', v) for k, v in overrides.items()]
    for where, value in chosen:
        if not isinstance(value, str) or value not in VISIBILITIES:
            raise ValueError(f"{path}: {where} must be one of {', '.join(VISIBILITIES)}, got {value!r}")
    tests: dict[str, set[str]] = {}  # notebook -> its autograded grade ids, read when a key names one
    for key in overrides:
        notebook, _, grade_id = key.partition("/")
        if notebook not in notebooks:
            raise ValueError(
                f'{path}: [results.test_visibility] "{key}": {notebook!r} is not a notebook of the '
                f"assignment (notebooks = {list(notebooks)})"
            )
        if grade_id:
            if notebook not in tests:
                tests[notebook] = _autograded_grade_ids(path, notebook)
            if grade_id not in tests[notebook]:
                raise ValueError(
                    f'{path}: [results.test_visibility] "{key}": {notebook} has no autograded test '
                    f"{grade_id!r} (its tests: {', '.join(sorted(tests[notebook])) or 'none'})"
                )
    return ResultsVisibility(
        visibility=table.get("visibility", "visible"),
        stdout_visibility=table.get("stdout_visibility", "hidden"),
        tests=table.get("tests", "visible"),
        test_visibility=dict(overrides),
    )


def _autograded_grade_ids(manifest: Path, notebook: str) -> set[str]:
    """The grade ids of a notebook's autograded tests, from the assignment's source notebook
    (`source/<id>/<notebook>.ipynb` in the course that holds `assignments/<id>.toml`)."""
    from autograder.notebooks import graded_items  # reads notebooks: only when a key needs it

    source = manifest.parent.parent / "source" / manifest.stem / f"{notebook}.ipynb"
    try:
        return {item.grade_id for item in graded_items(source) if item.autograded}
    except OSError as e:
        raise ValueError(f"{manifest}: cannot read {source} to check its grade ids ({e})") from None


def _sentences(value: object, where: str) -> tuple[str, ...]:
    """A non-empty list of non-empty strings."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where} must be a non-empty list of strings")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{where}: every item must be a non-empty string, got {item!r}")
    return tuple(value)


@dataclass(frozen=True)
class Course:
    """An nbgrader course directory: config, manifests, source, release and working folders."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Course:
        """The nearest folder at or above `start` (default: cwd) holding nbgrader_config.py."""
        here = (start or Path.cwd()).resolve()
        for folder in (here, *here.parents):
            if (folder / "nbgrader_config.py").is_file() and (folder / "assignments").is_dir():
                return cls(folder)
        raise FileNotFoundError(f"no nbgrader course (nbgrader_config.py + assignments/) at or above {here}")

    def manifest(self, assignment: str) -> Manifest:
        return load_manifest(self.root / "assignments" / f"{assignment}.toml")

    def assignments(self) -> list[str]:
        """The ids of the assignments that have a manifest."""
        return sorted(p.stem for p in (self.root / "assignments").glob("*.toml"))

    def plugin(self, assignment: str) -> Path:
        """The assignment's judge plug-in: a package beside its manifest."""
        return self.root / "assignments" / assignment

    def source(self, assignment: str) -> Path:
        return self.root / "source" / assignment

    def release(self, assignment: str) -> Path:
        return self.root / "release" / assignment

    def submitted(self, student: str, assignment: str) -> Path:
        return self.root / "submitted" / student / assignment

    def autograded(self, student: str, assignment: str) -> Path:
        return self.root / "autograded" / student / assignment

    @property
    def staging(self) -> Path:
        """Where nnla stages submissions for nbgrader (see autograder.grading.intake)."""
        return self.root / ".nnla" / "staging"

    @property
    def hypothesis_storage(self) -> Path:
        """Where hypothesis keeps what it caches while grading (no example database)."""
        return self.root / ".nnla" / "hypothesis"

    def log(self, student: str, assignment: str) -> Path:
        """nbgrader's log of grading one student's submission."""
        return self.root / "logs" / assignment / f"{student}.log"

    def students_submitted(self, assignment: str) -> list[str]:
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / assignment).is_dir())
