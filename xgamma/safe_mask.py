"""Deprecated: moved to :mod:`xgamma.reduction.safe_mask` (one-way layout); this path goes in the next release."""

import warnings

from xgamma.reduction import safe_mask as _moved

warnings.warn("xgamma.safe_mask moved to xgamma.reduction.safe_mask; the old import path goes in the next release",
              DeprecationWarning, stacklevel=2)


def __getattr__(name: str) -> object:
    return getattr(_moved, name)
