"""Shared fixtures: the repository as a course, and scratch copies of it."""

import importlib
import json
import os
import shutil
import sys
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from autograder.course import Course
from autograder.judge.isolation.sandbox import isolation
from autograder.judge.preprocessor import judge
from autograder.notebooks import autograded_points, graded_items, is_solution, nbgrader_meta, read
from autograder.plugin import load_plugin
from autograder.submissions import SOLUTION, fill_notebook
from tests.browser import JupyterServer, launch, missing_browser
from tests.servers import missing_postgres

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ch177"
FULL_MARKS = autograded_points(REPO / "source" / ASSIGNMENT)  # notebook -> its autograded points
# results.json's extra_data.max_score: every grade cell's points, the hand-graded written answers' included
MAX_SCORE = sum(
    i.points for nb in sorted((REPO / "source" / ASSIGNMENT).glob("*.ipynb")) for i in graded_items(nb)
)
MANIFEST = Course(REPO).manifest(ASSIGNMENT)
PLUGIN = load_plugin(Course(REPO), ASSIGNMENT)


def plugin_module(name: str):
    """A module of the assignment's plug-in (strategies, misconceptions, ...)."""
    return importlib.import_module(f"{PLUGIN.package.__name__}.{name}")


def demo_students() -> list:
    return PLUGIN.demo_students()


# Kernels started by the tests draw with Agg, as under `nnla`.
os.environ.setdefault("MPLBACKEND", "Agg")

needs_isolation = pytest.mark.skipif(
    not isolation().full, reason=f"needs the sandbox's full isolation ({isolation().summary()})"
)
# A command prefix: what follows runs where no user namespace may be created (max_user_namespaces
# is 0), as on machines that forbid them.
WITHOUT_USER_NAMESPACES = [
    *("unshare", "-U", "-r", "sh", "-c"),
    'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
    "sh",
]
# Root in a container that refuses new namespaces (Docker's default seccomp profile): a user
# namespace mapping two million uids, below which no other may be created.
ROOT_WITHOUT_NAMESPACES = [
    sys.executable,
    "-c",
    """
import os, sys
from autograder.judge.isolation import namespaces as ns
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
child = os.fork()
if child == 0:
    ns.unshare(ns.CLONE_NEWUSER)
    os.write(ready_w, b"1")
    os.read(go_r, 1)
    with open("/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
    os.execvp(sys.argv[1], sys.argv[1:])
os.read(ready_r, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{child}/{name}", "w") as f:
        f.write("0 0 2000000")
os.write(go_w, b"1")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
""",
]
needs_browser = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests: {missing_browser()}"
)

# Gradescope's autograder results specification, closed: every results.json nnla writes obeys it.
RESULTS_SCHEMA = Path(__file__).with_name("gradescope_results.schema.json")
# Folders that never hold a results.json: a course's notebooks, submissions, pages and logs,
# staging and hypothesis's cache, bytecode, installed packages. Skipped to keep the check cheap.
NO_RESULTS_IN = {
    *("assignments", "source", "release", "submitted", "feedback", "logs", "reports", ".nnla"),
    *("__pycache__", ".ipynb_checkpoints", ".git", "site-packages", "node_modules"),
}


@cache
def results_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(RESULTS_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def assert_valid_results(data_or_path: dict | str | Path) -> dict:
    """Fail, listing every violation, unless `data_or_path` (a results.json's content or path) is
    valid against Gradescope's results specification; return the content."""
    where = "results"
    if isinstance(data_or_path, str | Path):
        where = str(data_or_path)
        try:
            data = json.loads(Path(data_or_path).read_text(encoding="utf-8"))
        except ValueError as e:  # nnla writes results.json whole (write_json_atomically) or not at all
            pytest.fail(f"{where} is not JSON: {e}", pytrace=False)
    else:
        data = data_or_path
    errors = sorted(results_validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        said = "\n".join(f"  at {e.json_path}: {e.message[:300]}" for e in errors[:20])
        pytest.fail(f"{where} is not valid Gradescope results ({len(errors)} errors):\n{said}", pytrace=False)
    return data


def results_files(base: Path):
    """Every results.json under `base` (links not followed; folders that hold none skipped)."""
    for root, folders, files in os.walk(base):
        folders[:] = [f for f in folders if f not in NO_RESULTS_IN]
        if "results.json" in files:
            yield Path(root) / "results.json"


@pytest.fixture(scope="session")
def _results_checked(tmp_path_factory):
    """results.json path -> (mtime, size) when it was last found valid; checked once more at the end."""
    checked: dict[Path, tuple[int, int]] = {}
    yield checked
    _check_new_results(tmp_path_factory.getbasetemp(), checked)


@pytest.fixture(autouse=True)
def _every_results_json_is_valid(_results_checked, tmp_path_factory):
    """After each test, every results.json written or changed under pytest's temporary folders
    since the last check must be valid Gradescope results."""
    yield
    _check_new_results(tmp_path_factory.getbasetemp(), _results_checked)


def _check_new_results(base: Path, checked: dict[Path, tuple[int, int]]) -> None:
    for path in results_files(base):
        try:
            stat = path.stat()
        except OSError:  # removed meanwhile
            continue
        stamp = (stat.st_mtime_ns, stat.st_size)
        if checked.get(path) != stamp:
            assert_valid_results(path)
            checked[path] = stamp


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium, the system's own, for the whole test session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory):
    """`jupyter_server(course_root)`: a Jupyter server for that course, started once per session."""
    servers: dict[Path, JupyterServer] = {}

    def server_for(root: Path) -> JupyterServer:
        if root not in servers:
            servers[root] = JupyterServer(root, tmp_path_factory.mktemp("jupyter")).start()
        return servers[root]

    yield server_for
    for server in servers.values():
        server.stop()


def pytest_terminal_summary(terminalreporter):
    if (why := missing_browser()) is not None:
        terminalreporter.write_line(f"browser tests not run: {why}")
    if (why := missing_postgres()) is not None:
        terminalreporter.write_line(f"cluster tests not run: {why}")


@pytest.fixture(scope="session")
def repo() -> Course:
    return Course(REPO)


def copy_course(repo: Course, dest: Path, with_release: bool = True) -> Course:
    """A scratch course with the repo's config, manifests and notebooks (no gradebook)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo.root / "nbgrader_config.py", dest)
    for folder in ("assignments", "source") + (("release",) if with_release else ()):
        shutil.copytree(repo.root / folder, dest / folder)
    return Course(dest)


def processes_mentioning(text: str) -> list[int]:
    """Pids of the processes whose command line contains `text` (a scratch folder of the test's
    own, say, so that other gradings on the machine do not count)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def judge_solution(repo: Course, notebook: str, student: str, answers: dict | None = None) -> dict:
    """The judge's verdicts on the source solution of `notebook`, with `answers` in place of
    some of its cells ({grade_id: code})."""
    source = repo.source(ASSIGNMENT) / f"{notebook}.ipynb"
    solved = {nbgrader_meta(c)["grade_id"]: SOLUTION for c in read(source).cells if is_solution(c)}
    nb = fill_notebook(repo.release(ASSIGNMENT) / f"{notebook}.ipynb", source, {**solved, **(answers or {})})
    return judge(nb, notebook, ASSIGNMENT, student, repo)
