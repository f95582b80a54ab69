"""The known mistakes of vec01."""

from autograder.judge.misconceptions import Misconception

from .reference import dot

CATALOGUE = (
    Misconception(
        "forgets-sqrt",
        ("norm",),
        "The length is the square root of v . v, not v . v itself.",
        lambda v: dot(v, v),
    ),
)
