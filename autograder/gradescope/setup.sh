#!/usr/bin/env bash
# Gradescope runs this once, as root, from /autograder/source (the unpacked autograder.zip), when
# it builds the autograder's image: a Python of at least 3.11 with the pinned requirements in a
# venv of its own, /autograder/nnla-venv. The root is the folder above this one (/autograder on
# Gradescope) unless NNLA_GRADESCOPE_ROOT says otherwise; NNLA_PYTHON names the Python to use.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="${NNLA_GRADESCOPE_ROOT:-$(dirname "$SOURCE")}"
VENV="$ROOT/nnla-venv"

find_python() {
  for candidate in "${NNLA_PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

if ! PYTHON="$(find_python)"; then
  echo "nnla: this image has no Python 3.11 or newer; installing python3.11 from Ubuntu's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3.11 python3.11-venv
  PYTHON="$(find_python)"
fi
echo "nnla: $("$PYTHON" --version) at $PYTHON"
"$PYTHON" -m venv --clear "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-virtualenv \
  -r "$SOURCE/requirements.txt"
# The grader's code is found through a path file, not copied into site-packages: there student
# code could read it; under /autograder/source only root can (run_autograder locks it).
"$VENV/bin/python" - "$SOURCE/course" <<'PY'
import pathlib, site, sys
pathlib.Path(site.getsitepackages()[0], "nnla-course.pth").write_text(sys.argv[1] + "\n")
PY
"$VENV/bin/python" -c "import autograder.gradescope.run" # the grader imports with what was installed
echo "nnla: autograder ready"
