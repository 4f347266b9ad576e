"""Deprecated: moved to :mod:`xgamma.fitting.fold_map` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.fitting import fold_map as _moved

warnings.warn("xgamma.fold_map moved to xgamma.fitting.fold_map; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
