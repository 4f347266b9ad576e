"""Deprecated: moved to :mod:`xgamma.reduction.reflected` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import reflected as _moved

warnings.warn("xgamma.reflected moved to xgamma.reduction.reflected; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
