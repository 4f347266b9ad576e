"""Deprecated: moved to :mod:`xgamma.reduction.events` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import events as _moved

warnings.warn("xgamma.events moved to xgamma.reduction.events; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
