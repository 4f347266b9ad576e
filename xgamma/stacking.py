"""Deprecated: moved to :mod:`xgamma.reduction.stacking` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import stacking as _moved

warnings.warn("xgamma.stacking moved to xgamma.reduction.stacking; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
