"""Deprecated: moved to :mod:`xgamma.estimators.sed` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.estimators import sed as _moved

warnings.warn("xgamma.io.sed moved to xgamma.estimators.sed; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
