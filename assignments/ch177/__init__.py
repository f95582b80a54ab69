"""The judge's plug-in for ch177, "Linear Algebra for Neural Networks" (autograder.plugin).

suites/          hidden property suites, one module per notebook, compared with nnla_ref
strategies.py    hypothesis strategies for the chapter's objects
misconceptions.py  the chapter's known mistakes, matched against failing outputs
given.py         the activations the judge passes to student code by name
demo.py          the demo class `nnla demo` grades

Nothing here is released to students.
"""
