"""Build the autograder.zip that Gradescope takes: its two scripts at the root, pinned
requirements and the course parts the grader needs, nothing of the students'.

Gradescope unpacks the zip into /autograder/source, runs setup.sh there once as root to build
its image, then runs /autograder/run_autograder for each submission.
"""

from __future__ import annotations

import re
import stat
import tomllib
import zipfile
from importlib import metadata, resources
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from autograder.course import Course

SCRIPTS = ("setup.sh", "run_autograder")
# What the zip's course/ holds besides the assignment's own folders: the grader's code.
GRADER_FILES = ("nbgrader_config.py", "pyproject.toml", "autograder")
LEFT_OUT = re.compile(r"(^|/)(__pycache__|\.ipynb_checkpoints|\.pytest_cache)(/|$)|\.pyc$")
# Zip entries get a fixed time so that the same course always gives the same bytes.
EPOCH = (2020, 1, 1, 0, 0, 0)


def pinned_requirements(pyproject: Path) -> list[str]:
    """A requirement line for every package the project in `pyproject` needs to run, at the
    version installed here, which this grader was tested with: `name==version`, or
    `name<=version` for a version that does not install on the oldest Python the project
    supports (Ubuntu's python3.11 may be 3.11.0; pip then takes the newest that does).
    Extras (the developers' tools) are left out.
    """
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    oldest = _oldest_python(project.get("requires-python", ">=3.11"))
    environment = default_environment()
    pinned: dict[str, str] = {}
    todo = [Requirement(r) for r in project["dependencies"]]
    while todo:
        requirement = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": ""}):
            continue
        name = _canonical(requirement.name)
        if name in pinned:
            continue
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise RuntimeError(f"{requirement.name} is required but not installed here") from None
        if not requirement.specifier.contains(dist.version, prereleases=True):
            raise RuntimeError(f"{requirement} is required but {dist.version} is installed here")
        supports = SpecifierSet(dist.metadata.get("Requires-Python") or "")
        pin = "==" if supports.contains(oldest, prereleases=True) else "<="
        pinned[name] = f"{dist.metadata['Name']}{pin}{dist.version}"
        todo += [Requirement(r) for r in dist.requires or []]
    return sorted(pinned.values(), key=str.lower)


def _oldest_python(requires_python: str) -> str:
    """The lowest version a `requires-python` such as ">=3.11" admits, as "3.11.0"."""
    lowest = [s.version for s in SpecifierSet(requires_python) if s.operator in (">=", "==", "~=")]
    if not lowest:
        raise RuntimeError(f"requires-python {requires_python!r} names no lowest version")
    parts = (max(lowest, key=Version).split(".") + ["0", "0"])[:3]
    return ".".join(parts)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def course_files(course: Course, assignment: str) -> list[Path]:
    """The files the grader needs, relative to the course root: its code, the assignment's
    manifest, plug-in, source and release notebooks, and the packages its suites compare with."""
    manifest = course.manifest(assignment)
    roots = [
        *GRADER_FILES,
        f"assignments/{assignment}.toml",
        f"assignments/{assignment}",
        f"source/{assignment}",
        f"release/{assignment}",
        *manifest.references,
    ]
    files = []
    for name in roots:
        path = course.root / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: the autograder needs it")
        found = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p.relative_to(course.root) for p in found]
    return [p for p in files if not LEFT_OUT.search(p.as_posix())]


def build_autograder_zip(course: Course, assignment: str, out: Path) -> Path:
    """Write Gradescope's autograder.zip for `assignment` to `out` and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for script in SCRIPTS:
            text = resources.files(__package__).joinpath(script).read_text(encoding="utf-8")
            _add(zf, script, text.replace("@ASSIGNMENT@", assignment).encode(), executable=True)
        _add(
            zf,
            "requirements.txt",
            ("\n".join(pinned_requirements(course.root / "pyproject.toml")) + "\n").encode(),
        )
        for relative in course_files(course, assignment):
            path = course.root / relative
            executable = bool(path.stat().st_mode & stat.S_IXUSR)
            _add(zf, f"course/{relative.as_posix()}", path.read_bytes(), executable)
    partial.replace(out)
    return out


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, EPOCH)
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)
