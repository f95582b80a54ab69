"""Grading on Gradescope: `package` builds the autograder.zip, `run` grades one submission in
Gradescope's container with the same grading path as `nnla autograde`."""
