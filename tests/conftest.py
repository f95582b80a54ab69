"""Shared fixtures: the repository as a course, and scratch copies of it."""

import importlib
import os
import shutil
from pathlib import Path

import pytest

from autograder.course import Course
from autograder.judge.isolation.sandbox import isolation
from autograder.judge.preprocessor import judge
from autograder.notebooks import autograded_points, graded_items, is_solution, nbgrader_meta, read
from autograder.plugin import load_plugin
from autograder.submissions import SOLUTION, fill_notebook
from tests.browser import JupyterServer, launch, missing_browser

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ch177"
FULL_MARKS = autograded_points(REPO / "source" / ASSIGNMENT)  # notebook -> its autograded points
# results.json's max_score: every grade cell's points, the hand-graded written answers' included
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
needs_browser = pytest.mark.skipif(
    missing_browser() is not None, reason=f"browser tests: {missing_browser()}"
)


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
