"""As root, the grading paths again as an ordinary user, the way most instructors run them.

The tests create the user, copy the repository into a folder of theirs, install it there with a
plain `pip install .` (not editable: the reference and the hidden suites then sit in
site-packages, as on a Gradescope-style image) and run the sandbox, fork server, kernel zygote,
hostile corpus, demo class and cluster tests as that user. Run as an ordinary user, the suite
itself is that run.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO

USER = "nnla-ordinary"
MODULES = [
    "tests/test_sandbox.py",
    "tests/test_forkserver.py",
    "tests/test_hostile.py",
    "tests/test_end_to_end.py",
    "tests/test_kernels.py",
    # PostgreSQL runs as the user itself; Dask's processes too.
    "tests/test_cluster.py::test_a_worker_killed_mid_student_costs_only_time",
]
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "__pycache__", ".hypothesis", ".nnla", "demo-class", "gradebook.db",
    "submitted", "autograded", "feedback", "reports", "logs",
)  # fmt: skip

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="creates an ordinary user, so runs as root only"),
]


def as_user(
    argv: list[str], cwd: Path, home: Path, timeout: float, venv: Path | None = None
) -> subprocess.CompletedProcess:
    path = f"{venv / 'bin'}:/usr/bin:/bin" if venv else "/usr/bin:/bin"
    env = ["env", "-i", f"HOME={home}", "LANG=C.UTF-8", f"PATH={path}"]
    return subprocess.run(
        ["runuser", "-u", USER, "--", *env, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def python_for_user(home: Path) -> str:
    """A Python 3.11+ with venv that the user may run (root's own may sit in /root, closed to
    others)."""
    candidates = [
        str(Path(sys.base_prefix) / "bin" / "python3"),
        "/usr/bin/python3",
        "/usr/local/bin/python3",
    ]
    check = "import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))"
    for python in candidates:
        if Path(python).exists() and as_user([python, "-c", check], home, home, 60).returncode == 0:
            return python
    pytest.skip(f"no Python 3.11+ with venv that {USER} may run (tried {', '.join(candidates)})")


@pytest.fixture(scope="module")
def checkout():
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
    home = Path(
        subprocess.run(["getent", "passwd", USER], capture_output=True, text=True).stdout.split(":")[5]
    )
    folder = Path(tempfile.mkdtemp(prefix="nnla-as-user-"))
    os.chmod(folder, 0o755)
    shutil.copytree(REPO, folder / "repo", ignore=NOT_COPIED)
    python = python_for_user(home)
    subprocess.run([python, "-m", "venv", str(folder / "venv")], check=True)
    pip = [str(folder / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"{folder / 'repo'}[dev]"], check=True, capture_output=True)
    subprocess.run(["chown", "-R", f"{USER}:{USER}", str(folder)], check=True)
    yield folder / "repo", home, folder / "venv"
    shutil.rmtree(folder, ignore_errors=True)


def test_the_package_is_installed_not_linked_to_the_checkout(checkout):
    repo, home, venv = checkout
    where = as_user(
        ["python", "-c", "import nnla_ref; print(nnla_ref.__file__)"], repo.parent, home, 60, venv
    )
    assert "site-packages" in where.stdout, where.stderr


def test_sandbox_hostile_corpus_and_demo_class_pass_as_an_ordinary_user(checkout):
    repo, home, venv = checkout
    done = as_user(
        ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *MODULES], repo, home, 1800, venv
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "skipped" not in summary, summary  # every test ran, none was skipped for want of isolation
