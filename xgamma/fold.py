"""Deprecated: moved to :mod:`xgamma.fitting.fold` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.fitting import fold as _moved

warnings.warn("xgamma.fold moved to xgamma.fitting.fold; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
