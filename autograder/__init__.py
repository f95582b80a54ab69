"""nnla's grader: course layout, nbgrader pipeline, results, demo and command line."""
