"""The known mistakes of vec01."""

from autograder.judge.misconceptions import Misconception

CATALOGUE = (
    Misconception("forgets-sqrt", ("norm",), "The length is the square root of v . v, not v . v itself."),
)
