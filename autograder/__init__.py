"""nnla's grader: course layout, nbgrader pipeline, results, demo and command line."""

import sys

# nbformat validates notebooks with jsonschema, whose format checkers import rfc3987_syntax when it
# is installed (jupyter's dependencies install it). That import compiles some 35 Lark grammars and
# costs ~1.4 s of CPU in every process that loads nbformat: the command line and each grading
# worker. No notebook schema uses the "iri" formats it checks, so jsonschema may go without it, as
# it does whenever the package is missing (python-jsonschema/jsonschema#1428).
sys.modules.setdefault("rfc3987_syntax", None)
