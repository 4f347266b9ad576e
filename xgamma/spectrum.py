"""Deprecated: moved to :mod:`xgamma.reduction.spectrum` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import spectrum as _moved

warnings.warn("xgamma.spectrum moved to xgamma.reduction.spectrum; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
