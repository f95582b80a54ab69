"""An assignment's judge plug-in: the package beside its manifest, `assignments/<id>/`.

The grader names no assignment; everything one assignment needs beyond its manifest and its
notebooks lives in its plug-in, found from the assignment's id:

- `suites/`: the hidden property suites, any number of modules, each declaring
  `suite = Suite("<notebook>", misconceptions)` (autograder.judge.properties);
- `given.py` (optional): objects the judge passes to student code by name (activations, say),
  plain Python with numpy, run in the student's worker before any student code;
- `demo.py` (optional): `STUDENTS`, the synthetic class `nnla demo` grades
  (autograder.demo.students.DemoStudent);
- anything those import, relative to the package: strategies, misconceptions, a reference.

A reference installed as a package of its own is named in the manifest (`references`), so
that it is hidden from student code and its changes regrade everyone.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import re
import sys
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from types import ModuleType

from autograder.course import Course, Manifest
from autograder.judge.isolation.sandbox import hide_packages
from autograder.judge.properties import Suite


@dataclass(frozen=True)
class Plugin:
    """The loaded plug-in of one assignment."""

    manifest: Manifest
    folder: Path
    package: ModuleType

    @cached_property
    def suites(self) -> dict[str, Suite]:
        """notebook -> its hidden suite."""
        found = {}
        suites = importlib.import_module(f"{self.package.__name__}.suites")
        for module in pkgutil.iter_modules(suites.__path__):
            suite = getattr(importlib.import_module(f"{suites.__name__}.{module.name}"), "suite", None)
            if isinstance(suite, Suite):
                found[suite.notebook] = suite
        return found

    def suite_for(self, notebook: str) -> Suite | None:
        return self.suites.get(notebook)

    @property
    def given(self) -> str:
        """The source of given.py, run in the student's worker ("" when there is none)."""
        path = self.folder / "given.py"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def demo_students(self) -> list:
        """The demo class of this assignment ([] when it has none)."""
        if not (self.folder / "demo.py").is_file():
            return []
        return list(importlib.import_module(f"{self.package.__name__}.demo").STUDENTS)


def load_plugin(course: Course, assignment: str) -> Plugin:
    """The plug-in of `assignment` in `course`, imported once per process."""
    return _load(course.root.resolve(), assignment)


@cache
def _load(root: Path, assignment: str) -> Plugin:
    course = Course(root)
    folder = course.plugin(assignment)
    if not (folder / "__init__.py").is_file():
        raise FileNotFoundError(f"assignment {assignment!r} has no judge plug-in: {folder}/__init__.py")
    name = package_name(root, assignment)
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    manifest = course.manifest(assignment)
    hide_packages(manifest.references)
    return Plugin(manifest, folder, package)


def package_name(root: Path, assignment: str) -> str:
    """The name a plug-in is imported under: the same on every run, distinct per course folder."""
    where = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    return f"nnla_assignment_{re.sub(r'[^0-9a-zA-Z_]', '_', assignment)}_{where}"
