"""Deprecated: moved to :mod:`xgamma.reduction.binning` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import binning as _moved

warnings.warn("xgamma.binning moved to xgamma.reduction.binning; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
