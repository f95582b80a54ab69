"""The public checks of the vec01 notebooks, run by selfcheck.py beside this file."""

from selfcheck import Fail, call, check, get

ASSIGNMENT = "vec01"
NOTEBOOKS = {"01_dot": ("dot",), "02_norm": ("norm",)}
USES = {"norm": ("dot",)}

# numpy, hypothesis.strategies and hypothesis.extra.numpy: set by selfcheck.py in the check
# process only.
np = st = hnp = None


@check("dot", "dot([1, 2, 3], [4, 5, 6]) is 32", examples=[{"u": [1.0, 2.0, 3.0], "v": [4.0, 5.0, 6.0]}])
def _(ns, u, v):
    got = call("dot", get(ns, "dot"), np.array(u), np.array(v))
    if got != 32:
        raise Fail("wrong dot product", expected=32.0, got=got)


@check(
    "norm",
    "norm([3, 4]) is 5",
    hint="The length is the square root of v . v.",
    examples=[{"v": [3.0, 4.0]}],
)
def _(ns, v):
    got = call("norm", get(ns, "norm"), np.array(v))
    if got != 5:
        raise Fail("wrong length", expected=5.0, got=got)
