"""Deprecated: moved to :mod:`xgamma.reduction.many` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import many as _moved

warnings.warn("xgamma.reduce_many moved to xgamma.reduction.many; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
