"""Deprecated: moved to :mod:`xgamma.reduction.background` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import background as _moved

warnings.warn("xgamma.background moved to xgamma.reduction.background; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
